// The dashboard's HTTP server: the page, /api/status, /api/fleet (every host, with the token), /api/events (server-sent events),
// /metrics, and the mutating POST /api/programs/:name/(restart|stop|start), which need
// `Authorization: Bearer <token>` (else 403). Only loaded when the dashboard is on.
//
// Why a header and not a cookie: a browser attaches cookies to cross-site requests but never an
// Authorization header, and a cross-origin script cannot read the page or the token. The Host
// check turns away DNS-rebinding pages that would otherwise be "same origin" with us.

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DaemonView } from '../daemon.js';
import { metricsText } from './metrics.js';
import { PAGE } from './page.js';

export interface Dashboard {
  host: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Listens on host:port (port 0 picks a free one); resolves once listening. */
export async function startDashboard(daemon: DaemonView, opts: { host: string; port: number }): Promise<Dashboard> {
  const streams = new Set<ServerResponse>();
  let pushTimer: NodeJS.Timeout | undefined;
  let pending = false;

  const snapshot = () => JSON.stringify({ status: daemon.status(), details: daemon.details() });
  const pushAll = () => {
    pending = false;
    if (streams.size === 0) return;
    const data = `event: status\ndata: ${snapshot()}\n\n`;
    for (const s of streams) s.write(data);
  };
  // Many state changes in a burst become one push; uptime, memory and CPU move every second.
  const unsubscribe = daemon.subscribe((event) => {
    if (event !== null && streams.size > 0) {
      const data = `event: lifecycle\ndata: ${JSON.stringify(event)}\n\n`;
      for (const s of streams) s.write(data);
    }
    if (!pending) {
      pending = true;
      setTimeout(pushAll, 50).unref();
    }
  });

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${(err as Error).message}\n`);
    });
  });

  const allowedHost = (req: IncomingMessage): boolean => {
    if (!LOOPBACK.has(opts.host)) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    return LOOPBACK.has(host);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!allowedHost(req)) return send(res, 403, 'text/plain', 'forbidden host\n');
    if (req.method === 'GET' && url.pathname === '/') {
      return send(res, 200, 'text/html; charset=utf-8', PAGE, { 'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:", 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
    }
    if (req.method === 'GET' && url.pathname === '/api/status') return send(res, 200, 'application/json', JSON.stringify(daemon.freshStatus()));
    if (req.method === 'GET' && url.pathname === '/api/fleet') {
      // Other hosts' machines, homes and programs: for holders of the token only.
      if (!authorized(req.headers.authorization, daemon.token)) return send(res, 403, 'application/json', JSON.stringify({ error: 'missing or wrong token: send Authorization: Bearer <contents of <home>/token>' }));
      const fleet = daemon.fleetStatus();
      if (fleet === undefined) return send(res, 404, 'application/json', JSON.stringify({ error: 'this daemon is not part of a fleet' }));
      return send(res, 200, 'application/json', JSON.stringify(await fleet));
    }
    if (req.method === 'GET' && url.pathname === '/metrics') return send(res, 200, 'text/plain; version=0.0.4', metricsText(daemon.freshStatus()));
    if (req.method === 'GET' && url.pathname === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(`retry: 1000\nevent: status\ndata: ${snapshot()}\n\n`);
      streams.add(res);
      daemon.watch(1);
      pushTimer ??= setInterval(pushAll, 1000);
      req.on('close', () => {
        daemon.watch(-1);
        streams.delete(res);
        if (streams.size === 0 && pushTimer !== undefined) {
          clearInterval(pushTimer);
          pushTimer = undefined;
        }
      });
      return;
    }
    const m = /^\/api\/programs\/([^/]+)\/(restart|stop|start)$/.exec(url.pathname);
    if (m !== null) {
      if (req.method !== 'POST') return send(res, 405, 'text/plain', 'use POST\n', { allow: 'POST' });
      if (!authorized(req.headers.authorization, daemon.token)) return send(res, 403, 'application/json', JSON.stringify({ error: 'missing or wrong token: send Authorization: Bearer <contents of <home>/token>' }));
      const reply = await daemon.act(m[2] as 'restart' | 'stop' | 'start', decodeURIComponent(m[1]!));
      if (reply.ok) return send(res, 200, 'application/json', JSON.stringify(reply.result));
      return send(res, reply.code === 'ERR_NOT_FOUND' ? 404 : 409, 'application/json', JSON.stringify({ error: reply.error }));
    }
    return send(res, 404, 'text/plain', 'not found\n');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    host: opts.host,
    port: addr.port,
    close: async () => {
      unsubscribe();
      if (pushTimer !== undefined) clearInterval(pushTimer);
      for (const s of streams) s.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+([0-9a-f]+)$/i.exec(header ?? '');
  if (m === null) return false;
  const given = Buffer.from(m[1]!.toLowerCase());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}
