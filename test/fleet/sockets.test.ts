// The fleet's listening sockets with real sockets and processes: bound and listening in the
// daemon without the daemon accepting (a connection made before any instance runs waits in
// the backlog for one), unix sockets and stale socket files, bind errors, closing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ListenSpec } from '../../src/fleet/config-ops.js';
import { ListenError, Sockets } from '../../src/fleet/sockets.js';
import { freePort } from '../support.js';

/** Connects and resolves with the first line the other end sends. */
function firstLine(to: { port: number } | { path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const c: Socket = 'port' in to ? createConnection(to.port, '127.0.0.1') : createConnection(to.path);
    let data = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      data += d;
      if (data.includes('\n')) {
        c.destroy();
        resolve(data.split('\n')[0]!);
      }
    });
    c.on('error', reject);
  });
}

/** A child that accepts on fd 3 and greets each connection with its pid. */
function greeter(fds: number[]) {
  const script = "require('net').createServer((s)=>s.end(process.pid+'\\n')).listen({fd:3})";
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit', ...fds] });
}

describe('fleet sockets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-sockets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a TCP socket listens from the bind on, but only instances accept: an early connection waits for one', async () => {
    const port = await freePort();
    const sockets = new Sockets();
    const spec: ListenSpec = { kind: 'tcp', host: '127.0.0.1', port, text: `127.0.0.1:${port}` };
    const { fds, env } = await sockets.forProgram('web', [spec]);
    assert.deepEqual(env, { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' });
    assert.equal(fds.length, 1);
    // Connected (the kernel queues it), though nothing accepts yet: the daemon itself never does.
    const early = firstLine({ port });
    const child = greeter(fds);
    try {
      assert.equal(await early, String(child.pid), 'the queued connection went to the instance');
      assert.deepEqual((await sockets.forProgram('web', [spec])).fds, fds, 'bound once, the same fd every time');
    } finally {
      child.kill('SIGKILL');
      sockets.close();
    }
    await new Promise((r) => child.once('exit', r));
    await assert.rejects(firstLine({ port }), /ECONNREFUSED/, 'closed once nobody holds it');
  });

  test('a unix socket: a stale socket file is replaced, a live one or another file is refused', async () => {
    const path = join(dir, 'web.sock');
    const spec: ListenSpec = { kind: 'unix', path, text: `unix:${path}` };
    // While another process accepts there: refused.
    const live = createServer();
    await new Promise<void>((r) => live.listen(path, r));
    try {
      await assert.rejects(
        new Sockets().forProgram('web', [spec]),
        (e: unknown) => e instanceof ListenError && /another process accepts connections/.test(e.message),
      );
    } finally {
      await new Promise<void>((r) => live.close(() => r()));
    }
    // A process that died without closing leaves its socket file behind.
    const dead = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(path)},()=>process.kill(process.pid,'SIGKILL'))`],
      { stdio: 'ignore' },
    );
    await new Promise((r) => dead.once('exit', r));
    assert.ok(existsSync(path), 'a stale socket file');
    const sockets = new Sockets();
    const { fds } = await sockets.forProgram('web', [spec]);
    const child = greeter(fds);
    try {
      assert.equal(await firstLine({ path }), String(child.pid));
    } finally {
      child.kill('SIGKILL');
      sockets.close();
    }
    assert.equal(existsSync(path), false, 'closing removes the socket file');
    writeFileSync(path, 'not a socket');
    await assert.rejects(
      new Sockets().forProgram('web', [spec]),
      (e: unknown) => e instanceof ListenError && /exists and is not a socket/.test(e.message),
    );
  });

  test('an address in use is a ListenError that says so; retain() closes what no program lists', async () => {
    const port = await freePort();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    const spec: ListenSpec = { kind: 'tcp', host: '127.0.0.1', port, text: `127.0.0.1:${port}` };
    try {
      await assert.rejects(
        new Sockets().forProgram('web', [spec]),
        (e: unknown) =>
          e instanceof ListenError &&
          e.code === 'ERR_LISTEN' &&
          /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE: address already in use/.test(e.message),
      );
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
    const sockets = new Sockets();
    await sockets.forProgram('web', [spec]);
    assert.equal(sockets.isBound([spec]), true);
    sockets.retain([[spec]]);
    assert.equal(sockets.isBound([spec]), true);
    sockets.retain([]);
    assert.equal(sockets.isBound([spec]), false);
    await assert.rejects(firstLine({ port }), /ECONNREFUSED/);
  });
});
