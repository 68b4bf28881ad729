// The dashboard's HTTP server: the page and /metrics for anyone who reaches the port; everything
// else needs `Authorization: Bearer <token>` (else 403): /api/status, /api/fleet (every host of
// the fleet, 404 when not in one), /api/events (server-sent events carrying program output,
// config and status: see feed.ts) and POST /api/programs/:target/(restart|stop|start), a target
// being `name`, `name:index` or `all` as on the command line. Only loaded when the dashboard is on.
//
// Why a header and not a cookie: a browser attaches cookies to cross-site requests but never an
// Authorization header, and a cross-origin script cannot read the page or the token. The Host
// check turns away DNS-rebinding pages that would otherwise be "same origin" with us. Why reads
// need the token too: another local user reaches the port as easily as the owner does.
//
// Bounded (limits.ts): an event-stream client whose unsent backlog passes
// EVENT_STREAM_BUFFER_BYTES is dropped, at most EVENT_STREAM_CLIENTS streams and
// DASHBOARD_CONNECTIONS connections are open at once, a request must arrive within
// DASHBOARD_REQUEST_MS and carry at most DASHBOARD_BODY_BYTES of body.

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReplyCode } from '../control.js';
import type { DaemonView } from '../daemon.js';
import {
  DASHBOARD_BODY_BYTES,
  DASHBOARD_CONNECTIONS,
  DASHBOARD_REQUEST_MS,
  EVENT_STREAM_BUFFER_BYTES,
  EVENT_STREAM_CLIENTS,
  roomForClient,
} from '../limits.js';
import { Feed } from './feed.js';
import { metricsText, type StreamCounts } from './metrics.js';
import { PAGE } from './page.js';
import { queuePage } from './queue.js';
import type { QueueConfig } from '../../fleet/config.js';

export interface Dashboard {
  host: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The HTTP status for a failed control reply, by its code. */
const STATUS_OF: Record<ReplyCode, number> = {
  ERR_BAD_REQUEST: 400,
  ERR_TOO_LARGE: 413,
  ERR_NOT_FOUND: 404,
  ERR_CONFIG: 409,
  ERR_SHUTTING_DOWN: 503,
  ERR_BUSY: 503,
  ERR_FAILED: 409,
  ERR_INTERNAL: 500,
};

const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; form-action 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
const NEEDS_TOKEN = JSON.stringify({ error: 'missing or wrong token: send Authorization: Bearer <contents of <home>/token>' });

/** Listens on host:port (port 0 picks a free one); resolves once listening. */
export async function startDashboard(daemon: DaemonView, opts: { host: string; port: number; queue?: QueueConfig }): Promise<Dashboard> {
  const streams = new Set<ServerResponse>();
  const counts: StreamCounts = { open: 0, dropped: 0, refused: 0 };
  let pushTimer: NodeJS.Timeout | undefined;
  let pending = false;
  const feed = new Feed(daemon);
  // Updates sent so far; a snapshot is shared by the clients that connect between two updates
  // (it is what the next update continues from), for at most a second.
  let updates = 0;
  let latest: { at: number; after: number; data: Buffer } | undefined;

  // One Buffer for every client: a socket that cannot take it at once keeps a reference, not a
  // copy (a string would be copied per socket). A client still holding more than the bound
  // unsent when the next event comes is dropped rather than buffered; it may reconnect.
  const broadcast = (data: Buffer) => {
    for (const s of streams) {
      if (s.writableLength > EVENT_STREAM_BUFFER_BYTES) {
        counts.dropped++;
        streams.delete(s);
        s.destroy();
      } else {
        s.write(data);
      }
    }
    counts.open = streams.size;
  };
  const snapshotEvent = (): Buffer => {
    if (latest !== undefined && latest.after === updates && Date.now() - latest.at < 1000) return latest.data;
    const data = Buffer.from(`event: snapshot\ndata: ${JSON.stringify(feed.snapshot(streams.size === 0))}\n\n`);
    latest = { at: Date.now(), after: updates, data };
    return data;
  };
  const pushAll = () => {
    pending = false;
    if (streams.size === 0) return;
    updates++;
    broadcast(Buffer.from(`event: update\ndata: ${JSON.stringify(feed.update())}\n\n`));
  };
  // Many state changes in a burst become one push; uptime, memory and CPU move every second.
  const unsubscribe = daemon.subscribe((event) => {
    if (event !== null && streams.size > 0) broadcast(Buffer.from(`event: lifecycle\ndata: ${JSON.stringify(event)}\n\n`));
    if (!pending) {
      pending = true;
      setTimeout(pushAll, 50).unref();
    }
  });

  const server = createServer(
    { requestTimeout: DASHBOARD_REQUEST_MS, headersTimeout: DASHBOARD_REQUEST_MS, connectionsCheckingInterval: 1000 },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`error: ${(err as Error).message}\n`);
      });
    },
  );
  server.maxConnections = DASHBOARD_CONNECTIONS;
  // Descriptors are kept for respawns before they are given to browsers.
  server.on('connection', (sock) => {
    if (!roomForClient()) sock.destroy();
  });

  const allowedHost = (req: IncomingMessage): boolean => {
    if (!LOOPBACK.has(opts.host)) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    return LOOPBACK.has(host);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!(await bodyWithin(req, DASHBOARD_BODY_BYTES)))
      return send(res, 413, 'text/plain', `request body over ${DASHBOARD_BODY_BYTES} bytes; no route takes one\n`, { connection: 'close' });
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      return send(res, 400, 'text/plain', 'bad request URL\n');
    }
    if (!allowedHost(req)) return send(res, 403, 'text/plain', 'forbidden host\n');
    if (req.method === 'GET' && path === '/') return send(res, 200, 'text/html; charset=utf-8', PAGE, PAGE_HEADERS);
    if (req.method === 'GET' && path === '/metrics')
      return send(res, 200, 'text/plain; version=0.0.4', metricsText(daemon.freshStatus(), counts));
    // The queue page: its data and actions check the same token (see queue.ts).
    if ((path === '/queue' || path.startsWith('/api/queue')) && (await queue.handle(req, res, new URL(req.url ?? '/', 'http://x')))) return;
    // :target is `name`, `name:index` or `all`, as on the command line (names cannot hold a colon).
    const m = /^\/api\/programs\/([^/]+)\/(restart|stop|start)$/.exec(path);
    if (path !== '/api/status' && path !== '/api/events' && path !== '/api/fleet' && m === null)
      return send(res, 404, 'text/plain', 'not found\n');
    if (req.method !== (m === null ? 'GET' : 'POST'))
      return send(res, 405, 'text/plain', `use ${m === null ? 'GET' : 'POST'}\n`, { allow: m === null ? 'GET' : 'POST' });
    // Everything below carries program output, state or the power to act: token first.
    if (!authorized(req.headers.authorization, daemon.token)) return send(res, 403, 'application/json', NEEDS_TOKEN);
    if (path === '/api/status') return send(res, 200, 'application/json', JSON.stringify(daemon.freshStatus()));
    if (path === '/api/events') return openStream(res);
    if (path === '/api/fleet') {
      const fleet = daemon.fleetStatus();
      if (fleet === undefined) return send(res, 404, 'application/json', JSON.stringify({ error: 'this daemon is not part of a fleet' }));
      return send(res, 200, 'application/json', JSON.stringify(await fleet));
    }
    let name: string;
    try {
      name = decodeURIComponent(m![1]!);
    } catch {
      return send(res, 400, 'application/json', JSON.stringify({ error: `malformed %-escape in program name '${m![1]}'` }));
    }
    const reply = await daemon.act(m![2] as 'restart' | 'stop' | 'start', name);
    if (reply.ok) return send(res, 200, 'application/json', JSON.stringify(reply.result));
    return send(res, STATUS_OF[reply.code] ?? 409, 'application/json', JSON.stringify({ error: reply.error, code: reply.code }));
  }

  function openStream(res: ServerResponse): void {
    if (streams.size >= EVENT_STREAM_CLIENTS) {
      counts.refused++;
      return send(
        res,
        503,
        'application/json',
        JSON.stringify({ error: `too many event streams open (${EVENT_STREAM_CLIENTS}); close a dashboard tab` }),
        { 'retry-after': '5', connection: 'close' },
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 1000\n');
    // Clients that connect together share one snapshot (and its memory) instead of one each.
    res.write(snapshotEvent());
    streams.add(res);
    counts.open = streams.size;
    daemon.watch(1);
    pushTimer ??= setInterval(pushAll, 1000);
    res.on('close', () => {
      daemon.watch(-1);
      streams.delete(res);
      counts.open = streams.size;
      if (streams.size === 0 && pushTimer !== undefined) {
        clearInterval(pushTimer);
        pushTimer = undefined;
      }
    });
  }
  const queue = queuePage({ config: opts.queue, authorized: (req) => authorized(req.headers.authorization, daemon.token), send });

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
      await queue.close();
    },
  };
}

/** Reads and drops the request body; false (and the connection closed after the reply) once it passes `limit`. */
function bodyWithin(req: IncomingMessage, limit: number): Promise<boolean> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(false);
  if (req.complete) return Promise.resolve(true);
  return new Promise((resolve) => {
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(false);
      }
    };
    req.on('data', onData);
    req.once('end', () => resolve(true));
    req.once('error', () => resolve(false));
  });
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
