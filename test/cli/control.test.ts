// The control socket and the dashboard's HTTP API: modes 0600, the token guarding mutating
// routes (403 without it), one daemon per home, exit codes, and commands that return once done.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import { CLI, cli, prog, startDaemon, tempProject, waitFor, type Daemon } from './helpers.js';

/** fetch cannot set Host, so this uses node:http. */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('control socket and dashboard API', () => {
  const p = tempProject('');
  let d: Daemon;
  let base: string;
  let token: string;

  before(async () => {
    p.write(`dashboard: { port: 0 }
programs:
  api: { command: ${prog('--tick', 100)}, instances: 2 }
  other: { command: ${prog()} }
`);
    d = await startDaemon(p.dir, p.home);
    base = d.lines[await d.line(/^dashboard http:\/\/127\.0\.0\.1:\d+\/$/)]!.split(' ')[1]!;
    token = readFileSync(`${p.home}/token`, 'utf8').trim();
  });
  after(async () => {
    await d.stop();
    p.cleanup();
  });

  test('the socket and the token file are 0600; the token has at least 128 random bits', () => {
    assert.equal(statSync(`${p.home}/bosun.sock`).mode & 0o777, 0o600);
    assert.equal(statSync(`${p.home}/token`).mode & 0o777, 0o600);
    assert.match(token, /^[0-9a-f]{32,}$/);
    assert.equal(readFileSync(`${p.home}/bosun.pid`, 'utf8').trim(), String(d.pid));
  });

  test('mutating routes answer 403 without the right token, and act with it', async () => {
    const before = await d.until('api running', (s) => s.programs.filter((x) => x.pid !== null).length === 3);
    const url = `${base}api/programs/other/restart`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 403);
    assert.equal((await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${'0'.repeat(64)}` } })).status, 403);
    assert.equal((await fetch(url, { method: 'POST', headers: { authorization: token } })).status, 403);
    assert.equal((await d.status()).programs[2]!.pid, before.programs[2]!.pid, 'nothing happened without the token');
    const ok = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    const after = await d.status();
    assert.notEqual(after.programs[2]!.pid, before.programs[2]!.pid);
    assert.equal(after.programs[2]!.restarts, 0, 'a restart by command does not count');
    assert.equal(
      (await fetch(`${base}api/programs/nope/stop`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status,
      404,
    );
    assert.equal(await statusWithHost(`${base}metrics`, 'evil.example'), 403, 'DNS-rebinding hosts are refused');
    assert.equal(await statusWithHost(`${base}metrics`, 'localhost'), 200);
  });

  test('GET /api/status gives the status --json body (with the token); /metrics is Prometheus text; / is the page', async () => {
    const s = await d.until('all running', (s) => s.programs.every((x) => x.pid !== null));
    assert.equal((await fetch(`${base}api/status`)).status, 403);
    const api = (await (await fetch(`${base}api/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as typeof s;
    assert.deepEqual(
      api.programs.map((x) => [x.name, x.instance, x.pid]),
      s.programs.map((x) => [x.name, x.instance, x.pid]),
    );
    assert.deepEqual(Object.keys(api.programs[0]!).slice(0, 8), [
      'name',
      'instance',
      'pid',
      'state',
      'restarts',
      'uptimeMs',
      'memoryBytes',
      'cpuPercent',
    ]);
    assert.deepEqual(
      s.programs.map((x) => `${x.name}[${x.instance}]`),
      ['api[0]', 'api[1]', 'other[0]'],
    );
    const metrics = await (await fetch(`${base}metrics`)).text();
    assert.match(metrics, /^# TYPE bosun_program_up gauge$/m);
    assert.match(metrics, /^bosun_program_up\{program="api",instance="1"\} 1$/m);
    assert.match(metrics, /^bosun_program_state\{program="other",instance="0",state="running"\} 1$/m);
    const page = await fetch(base);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /fetch\('\/api\/events'/);
  });

  test('a second daemon on the same home exits 1 naming the running pid', async () => {
    const r = await cli(['run'], { cwd: p.dir });
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, new RegExp(`already running on .* \\(pid ${d.pid}\\)`));
    assert.equal(existsSync(`${p.home}/bosun.sock`), true, 'the running daemon keeps its socket');
    assert.equal((await cli(['status', '--home', p.home])).code, 0);
  });

  test('options go before or after the command; unknown names exit 1; no daemon exits 3; bad usage exits 2', async () => {
    const a = await cli(['status', '--json', '--home', p.home]);
    const b = await cli(['--home', p.home, 'status', '--json']);
    assert.equal(a.code, 0);
    assert.equal(b.code, 0);
    assert.deepEqual(
      JSON.parse(a.stdout).programs.map((x: { name: string }) => x.name),
      JSON.parse(b.stdout).programs.map((x: { name: string }) => x.name),
    );
    const unknown = await cli(['restart', 'nope', '--home', p.home]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown program 'nope'/);
    const none = await cli(['status', '--home', `${p.dir}/nowhere`]);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no bosun daemon is running/);
    assert.equal((await cli(['frobnicate'])).code, 2);
    assert.equal((await cli(['logs', '-n', 'x', '--home', p.home])).code, 2);
  });

  test('stop returns once the process is gone; restart once the new one runs; logs -n shows the last lines', async () => {
    const s = await d.until('api running', (s) => s.programs[0]!.pid !== null && s.programs[1]!.pid !== null);
    const pids = s.programs.slice(0, 2).map((x) => x.pid!);
    const stop = await cli(['stop', 'api', '--home', p.home]);
    assert.equal(stop.code, 0, stop.stderr);
    for (const pid of pids) assert.equal(existsSync(`/proc/${pid}`), false, `pid ${pid} is gone when stop returns`);
    const stopped = await d.status();
    assert.deepEqual(
      stopped.programs.slice(0, 2).map((x) => [x.state, x.pid, x.uptimeMs, x.cpuPercent]),
      [
        ['stopped', null, 0, 0],
        ['stopped', null, 0, 0],
      ],
    );
    const restart = await cli(['restart', 'api', '--home', p.home]);
    assert.equal(restart.code, 0);
    const now = await d.status();
    for (const x of now.programs.slice(0, 2)) {
      assert.ok(x.pid !== null && !pids.includes(x.pid) && existsSync(`/proc/${x.pid}`), 'the new pid runs when restart returns');
    }
    const logs = await waitFor('ticks in the logs', async () => {
      const l = await cli(['logs', 'api', '-n', '2', '--home', p.home]);
      return l.stdout.split('\n').filter((x) => /^\S+Z api\[1\] out \| tick$/.test(x)).length === 2 ? l : undefined;
    });
    assert.equal(logs.code, 0);
    assert.equal(logs.stdout.split('\n').filter((x) => x !== '').length, 4, 'two lines per instance');
    assert.equal((await cli(['logs', 'nope', '--home', p.home])).code, 1);
  });

  test('logs -f keeps printing new lines until interrupted', async () => {
    const child = spawn(process.execPath, [CLI, 'logs', 'api', '-f', '-n', '0', '--home', p.home], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      // api ticks every 100 ms, so new lines keep coming whenever the follower starts reading.
      await waitFor(
        'ticks from both instances',
        () => /^\S+Z api\[0\] out \| tick$/m.test(out) && /^\S+Z api\[1\] out \| tick$/m.test(out),
      );
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await closed, 0);
  });
});
