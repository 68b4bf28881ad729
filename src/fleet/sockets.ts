// Listening sockets the fleet binds once and hands to every instance of a program, the
// sd_listen_fds(3) way: fds 3, 4, ... with LISTEN_FDS and LISTEN_FDNAMES (LISTEN_PID is set by
// the instance's exec wrapper, see instance.ts). The kernel spreads connections over the
// instances blocked in accept(); no proxy is in the path, and since the daemon keeps its copy
// open the socket outlives every restart, so a rolling restart refuses no connection.
//
// The daemon must hold a *listening* socket without accepting on it (an accept in the daemon
// would take connections from the instances). Node has no public call for that: a net.Server
// listens and accepts together. So the socket is bound here with net's own internal
// `_createServerHandle` (what cluster uses: a bound handle, not watched by the event loop), and
// listen(2) is called once by a short-lived helper process that gets the fds, listens on
// each and exits before its event loop ever runs. A listening state belongs to the socket,
// not to an fd, so every copy is listening from then on.

import { spawn } from 'node:child_process';
import { lstatSync, rmSync } from 'node:fs';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { BosunError } from '../core/errors.js';
import { listenKey, type ListenSpec } from './config-ops.js';

/** A listen entry could not be bound (address in use, no permission, bad address). */
export class ListenError extends BosunError {
  readonly listen: string;
  constructor(program: string, listen: string, why: string, options?: { cause?: unknown }) {
    super('ERR_LISTEN', `${program}: cannot listen on ${listen}: ${why}`, options);
    this.listen = listen;
  }
}

/** What net._createServerHandle returns: a libuv TCP or Pipe handle, bound, not listening. */
interface ServerHandle {
  readonly fd: number;
  close(): void;
  getsockname?(out: Record<string, unknown>): number;
}
type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number, flags?: number) => ServerHandle | number;

const BACKLOG = 511;
/**
 * Listens on fds 3.. and exits in the same turn, so its event loop never accepts a connection.
 * A listen that failed (Linux lets a port in use be bound and refuses it at listen) leaves the
 * server not listening; its error comes on the next tick, before any I/O: `<index> <CODE>`.
 */
const LISTEN_HELPER = [
  "const net=require('net');const n=Number(process.argv[1]);let failed=false;",
  'for(let i=0;i<n;i++){const s=net.createServer();',
  "s.on('error',(e)=>{process.stderr.write(i+' '+(e.code||e.message)+'\\n');process.exit(1)});",
  `s.listen({fd:3+i,backlog:${BACKLOG}});if(!s.listening)failed=true}`,
  'if(!failed)process.exit(0)',
].join('');

/** One bound, listening socket. */
interface BoundSocket {
  readonly spec: ListenSpec;
  readonly handle: ServerHandle;
}

/**
 * Every socket the fleet holds, by address: a program's entries are bound the first time one
 * of its instances starts and kept until no program lists them (a reload that keeps an
 * address keeps its socket, so a rolling reload refuses no connection either).
 */
export class Sockets {
  readonly #bound = new Map<string, BoundSocket>();
  readonly #opening = new Map<string, Promise<BoundSocket>>();

  /**
   * The fds and environment for an instance of `program`, binding what is not bound yet.
   * Rejects with ListenError when an entry cannot be bound.
   */
  async forProgram(program: string, specs: readonly ListenSpec[]): Promise<{ fds: number[]; env: Record<string, string> }> {
    if (specs.length === 0) return { fds: [], env: {} };
    const socks = await this.#open(program, specs);
    return {
      fds: socks.map((s) => s.handle.fd),
      // systemd names every fd of a socket unit after the unit; here, after the program.
      env: { LISTEN_FDS: String(socks.length), LISTEN_FDNAMES: socks.map(() => fdName(program)).join(':') },
    };
  }

  /** True when every entry of `specs` is bound now. */
  isBound(specs: readonly ListenSpec[]): boolean {
    return specs.every((s) => this.#bound.has(listenKey(s)));
  }

  /** Closes the sockets that none of `keep` lists (after a reload; instances keep their own copies). */
  retain(keep: readonly (readonly ListenSpec[])[]): void {
    const wanted = new Set(keep.flatMap((specs) => specs.map(listenKey)));
    for (const [key, s] of this.#bound) {
      if (wanted.has(key)) continue;
      this.#bound.delete(key);
      closeSocket(s);
    }
  }

  /** Closes every socket. */
  close(): void {
    this.retain([]);
  }

  async #open(program: string, specs: readonly ListenSpec[]): Promise<BoundSocket[]> {
    const missing = specs.filter((s) => !this.#bound.has(listenKey(s)) && !this.#opening.has(listenKey(s)));
    if (missing.length > 0) {
      const batch = bindAll(program, missing);
      for (const s of missing) {
        const key = listenKey(s);
        const one = batch.then((socks) => socks.find((b) => listenKey(b.spec) === key)!);
        this.#opening.set(key, one);
        one.then(
          (b) => {
            this.#opening.delete(key);
            this.#bound.set(key, b);
          },
          () => this.#opening.delete(key),
        );
      }
    }
    return Promise.all(specs.map((s) => this.#bound.get(listenKey(s)) ?? this.#opening.get(listenKey(s))!));
  }
}

/** Binds every spec, then makes them all listen with one helper process. */
async function bindAll(program: string, specs: readonly ListenSpec[]): Promise<BoundSocket[]> {
  const socks: BoundSocket[] = [];
  try {
    for (const spec of specs) {
      if (spec.kind === 'unix') await removeStaleSocket(program, spec);
      socks.push({ spec, handle: bindOne(program, spec) });
    }
    await listenAll(program, socks);
  } catch (err) {
    for (const s of socks) closeSocket(s);
    throw err;
  }
  return socks;
}

function bindOne(program: string, spec: ListenSpec): ServerHandle {
  const create = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;
  if (typeof create !== 'function')
    throw new ListenError(program, spec.text, `this Node.js (${process.version}) has no net._createServerHandle`);
  let handle: ServerHandle | number;
  if (spec.kind === 'unix') {
    handle = create(spec.path, -1, -1);
  } else {
    // No host: every interface, IPv6 with v4-mapped addresses when the kernel has IPv6 (as net does).
    handle = create(spec.host ?? null, spec.port, spec.host === undefined ? 4 : net.isIPv6(spec.host) ? 6 : 4);
  }
  if (typeof handle === 'number') throw new ListenError(program, spec.text, describeErrno(handle));
  if (spec.kind === 'tcp') {
    // libuv keeps a TCP bind's EADDRINUSE for the listen that follows; here that listen is in
    // the helper, on a fresh handle, which would listen on an ephemeral port instead. Ask now.
    const err = handle.getsockname?.({}) ?? 0;
    if (err < 0) {
      handle.close();
      throw new ListenError(program, spec.text, describeErrno(err));
    }
  }
  return handle;
}

/**
 * A socket file left by an earlier daemon (nothing accepts on it) is removed; a live socket or
 * anything else at the path is not ours to take.
 */
async function removeStaleSocket(program: string, spec: ListenSpec & { kind: 'unix' }): Promise<void> {
  let st;
  try {
    st = lstatSync(spec.path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ListenError(program, spec.text, `${spec.path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const c = net.createConnection(spec.path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new ListenError(program, spec.text, `another process accepts connections on ${spec.path}`);
  rmSync(spec.path, { force: true });
}

function listenAll(program: string, socks: BoundSocket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', LISTEN_HELPER, String(socks.length)], {
      stdio: ['ignore', 'ignore', 'pipe', ...socks.map((s) => s.handle.fd)],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) =>
      reject(
        new ListenError(program, socks.map((s) => s.spec.text).join(', '), `the listen helper could not start: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    child.once('close', (code) => {
      if (code === 0) return resolve();
      const m = /^(\d+) (\S+)/.exec(stderr);
      const sock = m === null ? undefined : socks[Number(m[1])];
      if (sock === undefined)
        reject(new ListenError(program, socks.map((s) => s.spec.text).join(', '), `listen(2) failed: ${stderr.trim() || `exit ${code}`}`));
      else reject(new ListenError(program, sock.spec.text, describeCode(m![2]!)));
    });
  });
}

function closeSocket(s: BoundSocket): void {
  s.handle.close();
  if (s.spec.kind === 'unix') rmSync(s.spec.path, { force: true });
}

function describeErrno(errno: number): string {
  let name: string;
  try {
    name = getSystemErrorName(errno);
  } catch {
    name = `errno ${errno}`;
  }
  return describeCode(name);
}

function describeCode(name: string): string {
  const why: Record<string, string> = {
    EADDRINUSE: 'address already in use (another process listens there, or instances adopted from an earlier daemon still hold it)',
    EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
    EADDRNOTAVAIL: 'no interface has this address',
  };
  return `${name}: ${why[name] ?? 'bind failed'}`;
}

/** LISTEN_FDNAMES entries may not hold ':' and are at most 255 characters. */
function fdName(program: string): string {
  return program.replace(/[^\x21-\x7e]|:/g, '_').slice(0, 255);
}
