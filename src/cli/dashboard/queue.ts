// The dashboard's queue page, shown when the config has `queue: { database | pglite }`: what
// `bosun jobs` shows (counts by kind and state, failed jobs with their last error) with retry
// and cancel buttons. GET /queue is the page; its data and actions are behind the dashboard
// token like every route that shows or changes work: GET /api/queue (counts and failed jobs)
// and POST /api/queue/jobs/:id/(retry|cancel), each with `Authorization: Bearer <token>`.
//
// A PostgreSQL queue is opened once, on first use, and kept; a PGlite directory belongs to
// one process at a time, so it is opened per request and closed at once (while an
// application holds it, the page says so: StoreLockedError, 409).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { QueueConfig } from '../../fleet/config.js';
import type { JobQueue } from '../../queue/index.js';
import { firstLine, openQueue } from '../jobs.js';

export interface QueuePage {
  /** Serves the request if it is one of the queue's routes; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  close(): Promise<void>;
}

type Send = (res: ServerResponse, status: number, type: string, body: string, headers?: Record<string, string>) => void;

const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** `authorized` and `send` are the dashboard's own token check and response writer. */
export function queuePage(opts: { config: QueueConfig | undefined; authorized: (req: IncomingMessage) => boolean; send: Send }): QueuePage {
  const { config, authorized, send } = opts;
  let shared: Promise<JobQueue> | undefined;

  /** Runs `fn` on the queue: the kept PostgreSQL one, or a PGlite one opened for this call. */
  async function withQueue<T>(fn: (q: JobQueue) => Promise<T>): Promise<T> {
    if (config === undefined) throw new Error('no queue configured');
    if ('pglite' in config) {
      const q = await openQueue(config);
      try {
        return await fn(q);
      } finally {
        await q.close();
      }
    }
    shared ??= openQueue(config).catch((err: unknown) => {
      shared = undefined;
      throw err;
    });
    return fn(await shared);
  }

  const json = (res: ServerResponse, status: number, body: unknown) => send(res, status, 'application/json', JSON.stringify(body));
  const failure = (res: ServerResponse, err: unknown) => {
    const code = (err as { code?: string }).code;
    json(res, code === 'ERR_QUEUE_STORE_LOCKED' ? 409 : 503, { error: (err as Error).message });
  };

  return {
    async handle(req, res, url) {
      if (url.pathname === '/queue') {
        if (req.method !== 'GET') send(res, 405, 'text/plain', 'use GET\n', { allow: 'GET' });
        else send(res, 200, 'text/html; charset=utf-8', QUEUE_PAGE, PAGE_HEADERS);
        return true;
      }
      if (url.pathname !== '/api/queue' && !url.pathname.startsWith('/api/queue/')) return false;
      if (!authorized(req)) {
        json(res, 403, { error: 'missing or wrong token: send Authorization: Bearer <contents of <home>/token>' });
        return true;
      }
      if (config === undefined) {
        json(res, 404, { error: 'no queue configured: add queue: { database: URL } or { pglite: DIR } to the config' });
        return true;
      }
      if (url.pathname === '/api/queue') {
        if (req.method !== 'GET') {
          send(res, 405, 'text/plain', 'use GET\n', { allow: 'GET' });
          return true;
        }
        const kind = url.searchParams.get('kind') ?? undefined;
        try {
          const body = await withQueue(async (q) => ({
            counts: await q.counts(),
            failed: (await q.failed({ ...(kind ? { kind } : {}), limit: 50 })).map((j) => ({
              id: j.id,
              kind: j.kind,
              attempts: j.attempts,
              maxAttempts: j.maxAttempts,
              finishedAt: j.finishedAt?.toISOString(),
              error: firstLine(j.lastError),
            })),
          }));
          json(res, 200, body);
        } catch (err) {
          failure(res, err);
        }
        return true;
      }
      const m = /^\/api\/queue\/jobs\/([^/]+)\/(retry|cancel)$/.exec(url.pathname);
      if (m === null) {
        json(res, 404, { error: 'not found' });
        return true;
      }
      if (req.method !== 'POST') {
        send(res, 405, 'text/plain', 'use POST\n', { allow: 'POST' });
        return true;
      }
      const id = decodeURIComponent(m[1]!);
      try {
        const result = await withQueue(async (q) => {
          const before = await q.get(id);
          if (before === null) return { status: 404, body: { error: `no job ${id}` } };
          const after = m[2] === 'retry' ? await q.retry(id) : await q.cancel(id);
          const changed =
            m[2] === 'retry'
              ? before.state !== 'pending' && after?.state === 'pending'
              : before.state !== 'cancelled' && after?.state === 'cancelled';
          if (!changed) return { status: 409, body: { error: `job ${id} is ${before.state}: cannot ${m[2]} it` } };
          return { status: 200, body: { id, kind: after!.kind, state: after!.state } };
        });
        json(res, result.status, result.body);
      } catch (err) {
        failure(res, err);
      }
      return true;
    },
    async close() {
      const q = shared;
      shared = undefined;
      await (await q?.catch(() => undefined))?.close();
    },
  };
}

export const QUEUE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bosun · jobs</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{padding:12px 20px;background:#1d2330;color:#fff;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0} header a{color:#aac4ff} #conn{font-size:12px;opacity:.8}
main{padding:16px 20px} h2{font-size:15px;margin:18px 0 8px} table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e4e7ec} th{font-size:12px;color:#5b6475;text-transform:uppercase}
td.n{text-align:right;font-variant-numeric:tabular-nums} td.err{font-size:12px;color:#8a3b12;font-family:ui-monospace,monospace}
button{font-size:12px;margin-right:4px;cursor:pointer} #msg{margin:8px 0;color:#8f1d14;min-height:1.4em} form{margin:8px 0}
</style></head>
<body><header><h1>bosun · jobs</h1><a href="/">programs</a><span id="conn">loading…</span></header>
<main><div id="msg"></div>
<h2>counts</h2>
<table><thead><tr><th>kind</th><th>pending</th><th>running</th><th>done</th><th>failed</th><th>cancelled</th></tr></thead><tbody id="counts"></tbody></table>
<h2>failed jobs (newest first)</h2>
<table><thead><tr><th>id</th><th>kind</th><th>attempts</th><th>finished</th><th>last error</th><th>actions</th></tr></thead><tbody id="failed"></tbody></table>
<form id="byid"><label>job id <input id="jobid" size="10" inputmode="numeric"></label> <button data-action="retry">retry</button><button data-action="cancel">cancel</button></form>
</main>
<script>
(function(){
  'use strict';
  var m = /[#&]token=([0-9a-fA-F]+)/.exec(location.hash);
  if (m) { localStorage.setItem('bosun-token', m[1]); history.replaceState(null, '', location.pathname + location.search); }
  var msg = document.getElementById('msg'), conn = document.getElementById('conn');
  var STATES = ['pending', 'running', 'done', 'failed', 'cancelled'];
  function el(tag, attrs, text){ var e = document.createElement(tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }
  function token(){ var t = localStorage.getItem('bosun-token'); if (!t) { t = (prompt('Dashboard token (the contents of <home>/token):') || '').trim(); if (t) localStorage.setItem('bosun-token', t); } return t; }
  function call(method, path){
    var t = token(); if (!t) return Promise.reject(new Error('no token'));
    return fetch(path, { method: method, headers: { authorization: 'Bearer ' + t } }).then(function(r){
      if (r.status === 403) { localStorage.removeItem('bosun-token'); throw new Error('token refused: reopen the URL the daemon printed, or enter the token again'); }
      return r.json().then(function(b){ if (!r.ok) throw new Error(b.error || ('HTTP ' + r.status)); return b; });
    });
  }
  function act(id, action){ msg.textContent = action + ' ' + id + '…'; call('POST', '/api/queue/jobs/' + encodeURIComponent(id) + '/' + action).then(function(){ msg.textContent = ''; load(); }, function(e){ msg.textContent = e.message; }); }
  function render(data){
    var counts = document.getElementById('counts'), failed = document.getElementById('failed');
    counts.textContent = ''; failed.textContent = '';
    var kinds = Object.keys(data.counts.byKind).sort();
    kinds.concat(['(all)']).forEach(function(k){
      var c = k === '(all)' ? data.counts.total : data.counts.byKind[k], tr = el('tr', { 'data-kind': k });
      tr.appendChild(el('td', {}, k)); STATES.forEach(function(s){ tr.appendChild(el('td', { 'class': 'n', 'data-state': s }, String(c[s]))); }); counts.appendChild(tr);
    });
    data.failed.forEach(function(j){
      var tr = el('tr', { 'data-job': j.id });
      tr.appendChild(el('td', {}, j.id)); tr.appendChild(el('td', {}, j.kind)); tr.appendChild(el('td', { 'class': 'n' }, j.attempts + '/' + j.maxAttempts));
      tr.appendChild(el('td', {}, j.finishedAt || '')); tr.appendChild(el('td', { 'class': 'err' }, j.error));
      var td = el('td'), b = el('button', { 'data-action': 'retry' }, 'retry'); b.onclick = function(){ act(j.id, 'retry'); }; td.appendChild(b); tr.appendChild(td);
      failed.appendChild(tr);
    });
    if (data.failed.length === 0) { var tr = el('tr'); tr.appendChild(el('td', { colspan: '6' }, 'no failed jobs')); failed.appendChild(tr); }
  }
  function load(){ call('GET', '/api/queue').then(function(d){ render(d); conn.textContent = 'updated ' + new Date().toLocaleTimeString(); }, function(e){ conn.textContent = ''; msg.textContent = e.message; }); }
  document.getElementById('byid').addEventListener('click', function(e){
    var a = e.target.getAttribute && e.target.getAttribute('data-action'); if (!a) return; e.preventDefault();
    var id = document.getElementById('jobid').value.trim(); if (id) act(id, a);
  });
  load(); setInterval(load, 2000);
})();
</script></body></html>
`;
