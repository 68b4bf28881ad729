// The control socket: newline-delimited JSON over a unix socket in home, created with mode 0600
// so only the daemon's user can talk to it. One request a connection; the reply comes once the
// action is done, which is what lets client commands return only after the effect.
//
// Bounded for careless clients (limits.ts): a request longer than CONTROL_MESSAGE_BYTES is
// answered ERR_TOO_LARGE without reading the rest, a connection that sends no whole request
// within CONTROL_IDLE_MS is closed, and at CONTROL_CONNECTIONS (or when descriptors run low) a
// new connection closes the oldest idle one, so a pile of idle connections never locks out a
// client that asks something, nor takes the descriptors a respawn needs.

import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { BosunError } from '../core/errors.js';
import { CONTROL_CONNECTIONS, CONTROL_IDLE_MS, CONTROL_MESSAGE_BYTES, roomForClient } from './limits.js';

export type Request =
  | { cmd: 'ping' }
  | { cmd: 'status' }
  | { cmd: 'fleet' }
  | { cmd: 'logfiles' }
  | { cmd: 'start' | 'stop'; target: string }
  | { cmd: 'restart'; target: string; /** Absent: each program's `rolling` key decides. */ rolling?: boolean }
  | { cmd: 'reload' }
  | { cmd: 'reopen' }
  | { cmd: 'shutdown' };

/**
 * Why a request failed, stable for programs to dispatch on (the dashboard maps it to an HTTP
 * status): ERR_BAD_REQUEST (not JSON, not a request, unknown command), ERR_TOO_LARGE (over
 * CONTROL_MESSAGE_BYTES), ERR_BUSY (too many connections), ERR_NOT_FOUND (unknown program or
 * instance), ERR_CONFIG (reload of an invalid config), ERR_SHUTTING_DOWN, ERR_FAILED (the
 * command ran and failed, e.g. a replacement never became ready), ERR_INTERNAL (a bug: the
 * daemon threw something that is not a bosun error).
 */
export type ReplyCode =
  'ERR_BAD_REQUEST' | 'ERR_TOO_LARGE' | 'ERR_BUSY' | 'ERR_NOT_FOUND' | 'ERR_CONFIG' | 'ERR_SHUTTING_DOWN' | 'ERR_FAILED' | 'ERR_INTERNAL';

export interface Failure {
  ok: false;
  code: ReplyCode;
  error: string;
  /** The exit code a client command ends with. */
  exit: number;
}

export type Reply = { ok: true; result?: unknown } | Failure;

/** Bad usage and bad config exit 2 (as the CLI does); everything else 1. */
const EXIT_OF: Record<ReplyCode, number> = {
  ERR_BAD_REQUEST: 2,
  ERR_TOO_LARGE: 2,
  ERR_CONFIG: 2,
  ERR_BUSY: 1,
  ERR_NOT_FOUND: 1,
  ERR_SHUTTING_DOWN: 1,
  ERR_FAILED: 1,
  ERR_INTERNAL: 1,
};

/** A failed reply with `code` and the exit code that goes with it. */
export function failure(code: ReplyCode, error: string): Failure {
  return { ok: false, code, error, exit: EXIT_OF[code] };
}

/** What a command's error says as a reply, by its `code`: a stopping fleet (ERR_DEAD) is a daemon shutting down. */
export function failureOf(err: unknown): Failure {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof BosunError)) return failure('ERR_INTERNAL', message);
  if (err.code === 'ERR_DEAD') return failure('ERR_SHUTTING_DOWN', message);
  return failure(err.code in EXIT_OF ? (err.code as ReplyCode) : 'ERR_FAILED', message);
}

/** No daemon answers on the socket (exit code 3). */
export class NoDaemonError extends BosunError {
  constructor(socket: string, options?: { cause?: unknown }) {
    super('ERR_NO_DAEMON', `no bosun daemon is running (nothing answers on ${socket}); start one with \`bosun start\``, options);
  }
}

const TARGETED = new Set(['start', 'stop', 'restart']);

/** The request in `line`, or why it is none. Unknown commands pass: the handler names them. */
export function parseRequest(line: string): Request | Failure {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return failure('ERR_BAD_REQUEST', 'bad request: not JSON');
  }
  if (typeof req !== 'object' || req === null || typeof (req as { cmd?: unknown }).cmd !== 'string') {
    return failure('ERR_BAD_REQUEST', 'bad request: expected an object with a string "cmd"');
  }
  const r = req as { cmd: string; target?: unknown };
  if (TARGETED.has(r.cmd) && (typeof r.target !== 'string' || r.target === '')) {
    return failure('ERR_BAD_REQUEST', `bad request: '${r.cmd}' needs a "target" (a program name, name:index or all)`);
  }
  return req as Request;
}

/** Listens on `path` (mode 0600); `handle` answers each request. Resolves once listening. */
export async function serveControl(path: string, handle: (req: Request) => Promise<Reply>): Promise<Server> {
  rmSync(path, { force: true });
  // Oldest first (a Map keeps insertion order); `true` while waiting for the request.
  const open = new Map<Socket, boolean>();
  const evictIdle = (): boolean => {
    for (const [sock, idle] of open) {
      if (idle) {
        open.delete(sock);
        sock.destroy();
        return true;
      }
    }
    return false;
  };
  const server = createServer((sock) => {
    sock.on('error', () => {});
    // Full, or descriptors short: make room by closing idle connections, else say why not.
    for (;;) {
      const full = open.size >= CONTROL_CONNECTIONS;
      if (!full && roomForClient()) break;
      if (evictIdle()) continue;
      const why = full ? `${open.size} control requests are running` : 'it is short of file descriptors (see ulimit -n)';
      return refuse(sock, failure('ERR_BUSY', `the daemon is busy: ${why}; try again`));
    }
    open.set(sock, true);
    sock.on('close', () => open.delete(sock));
    sock.on('timeout', () => sock.destroy());
    sock.setTimeout(CONTROL_IDLE_MS);
    readRequest(sock, (line) => {
      open.set(sock, false);
      sock.setTimeout(0);
      const req = parseRequest(line);
      const done = (reply: Reply) => {
        // Answered: a client that does not read its reply is idle again, and may be closed.
        if (open.has(sock)) open.set(sock, true);
        sock.setTimeout(CONTROL_IDLE_MS);
        sock.end(`${JSON.stringify(reply)}\n`);
      };
      if ('ok' in req) return done(req);
      handle(req).then(done, (err: unknown) => done(failureOf(err)));
    });
  });
  // The umask makes the socket 0600 from its creation, so there is no window where others could
  // connect (and no chmod afterwards, which would follow a symlink put in its place).
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(old);
  }
  return server;
}

/**
 * Calls `got` with the first line `sock` sends, then stops reading. Chunks are kept as they
 * come and joined once, so a long message costs its length, not its length squared; past
 * CONTROL_MESSAGE_BYTES the client gets ERR_TOO_LARGE and nothing more is read.
 */
function readRequest(sock: Socket, got: (line: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    const nl = chunk.indexOf(10);
    const upTo = nl < 0 ? chunk.length : nl;
    if (size + upTo > CONTROL_MESSAGE_BYTES) {
      stop();
      // Not closed at once: a client still writing would see its write fail and could lose the
      // reply. Its writes now block on the full kernel buffer, it reads the reply, and the idle
      // timer (or an eviction) closes the connection.
      sock.end(
        `${JSON.stringify(failure('ERR_TOO_LARGE', `request too large: over ${CONTROL_MESSAGE_BYTES} bytes (a request is one line of JSON)`))}\n`,
      );
      return;
    }
    chunks.push(nl < 0 ? chunk : chunk.subarray(0, nl));
    size += upTo;
    if (nl < 0) return;
    stop();
    got(Buffer.concat(chunks, size).toString('utf8'));
  };
  const stop = () => {
    sock.off('data', onData);
    // Unread input stays in the kernel's (bounded) buffer until the socket closes.
    sock.pause();
  };
  sock.on('data', onData);
}

/** Answers `reply` and closes once it is written, so a refused connection holds no descriptor. */
function refuse(sock: Socket, reply: Failure): void {
  sock.pause();
  sock.end(`${JSON.stringify(reply)}\n`, () => sock.destroy());
}

/** Sends one request and resolves with the reply; rejects with NoDaemonError when nothing listens. */
export function request(path: string, req: Request): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    let connected = false;
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connected = true;
      sock.write(JSON.stringify(req) + '\n');
    });
    sock.on('data', (chunk: string) => (buf += chunk));
    let failed: Error | undefined;
    sock.on('error', (err) => {
      if (!connected) reject(new NoDaemonError(path, { cause: err }));
      else failed = err;
    });
    sock.on('close', () => {
      if (!connected) return;
      try {
        resolve(JSON.parse(buf) as Reply);
      } catch {
        // A daemon that refuses a connection (too many, or too few descriptors) may close it
        // before the request is written: the write fails and its reply is lost with it.
        const why =
          failed === undefined ? '' : ` (${failed.message}; it may be busy: too many connections or too few file descriptors, try again)`;
        reject(new BosunError('ERR_CONTROL', `the daemon closed the connection without a reply to '${req.cmd}'${why}`, { cause: failed }));
      }
    });
  });
}
