// The control socket: newline-delimited JSON over a unix socket in home, created with mode 0600
// so only the daemon's user can talk to it. One request a connection; the reply comes once the
// action is done, which is what lets client commands return only after the effect.

import { chmodSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { BosunError } from '../core/errors.js';

export type Request =
  | { cmd: 'ping' }
  | { cmd: 'status' }
  | { cmd: 'fleet' }
  | { cmd: 'logfiles' }
  | { cmd: 'start' | 'stop' | 'restart'; target: string }
  | { cmd: 'reload' }
  | { cmd: 'shutdown' };

/** A failed reply's `code` is stable (ERR_NOT_FOUND, ERR_CONFIG, ...): clients dispatch on it, never on `error`. */
export type Reply = { ok: true; result?: unknown } | { ok: false; error: string; exit: number; code?: string };

/** No daemon answers on the socket (exit code 3). */
export class NoDaemonError extends BosunError {
  constructor(socket: string, options?: { cause?: unknown }) {
    super('ERR_NO_DAEMON', `no bosun daemon is running (nothing answers on ${socket}); start one with \`bosun start\``, options);
  }
}

/** Listens on `path` (mode 0600); `handle` answers each request. Resolves once listening. */
export async function serveControl(path: string, handle: (req: Request) => Promise<Reply>): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => {});
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      sock.pause();
      let req: Request;
      try {
        req = JSON.parse(line) as Request;
      } catch {
        sock.end(JSON.stringify({ ok: false, error: 'bad request: not JSON', exit: 2 }) + '\n');
        return;
      }
      handle(req).then(
        (reply) => sock.end(JSON.stringify(reply) + '\n'),
        (err: unknown) => sock.end(JSON.stringify({ ok: false, error: (err as Error).message ?? String(err), exit: 1 }) + '\n'),
      );
    });
  });
  // The umask makes the socket 0600 from its creation, so there is no window where others could connect.
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
  chmodSync(path, 0o600);
  return server;
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
    sock.on('error', (err) => reject(connected ? err : new NoDaemonError(path, { cause: err })));
    sock.on('close', () => {
      if (!connected) return;
      try {
        resolve(JSON.parse(buf) as Reply);
      } catch {
        reject(new BosunError('ERR_CONTROL', `the daemon closed the connection without a reply to '${req.cmd}'`));
      }
    });
  });
}
