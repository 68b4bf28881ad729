// Client commands reach the running daemon whatever state the config is in, say what is really
// wrong (permission denied, no such config file), judge a stale pid file by its process's start
// time, and leave quietly when their reader goes away.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { until } from '../support.js';
import { CLI, cli, prog, processesWith, startDaemon, tempProject, waitFor, type Daemon, type Status } from './helpers.js';

const isRoot = process.getuid?.() === 0;

/** `bosun ...args` run as another user (through runuser; needs root). */
function cliAs(user: string, args: string[], cwd = '/'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('runuser', ['-u', user, '--', process.execPath, CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b));
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`bosun ${args.join(' ')} as ${user} took too long`))), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI and closes its stdout before it writes, as `| head -c0` would. */
function withClosedStdout(args: string[], afterFirstChunk = false): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    if (afterFirstChunk) child.stdout.once('data', () => child.stdout.destroy());
    else child.stdout.destroy();
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('client commands and a running daemon', () => {
  const p = tempProject(`dashboard: false\nprograms:\n  api: { command: ${prog('--tick', 50)} }\n  other: { command: ${prog()} }\n`);
  let d: Daemon;
  before(async () => {
    d = await startDaemon(p.dir, p.home);
    await d.until('running', (s) => s.programs.every((x) => x.pid !== null));
  });
  after(async () => {
    await d.stop();
    p.cleanup();
  });

  test('an invalid config in the folder does not lock the operator out: status, logs and stop still work', async () => {
    for (const broken of [
      'programs:\n  api: { restart: sometimes }\n',
      'programs:\n  api: { command: [node\n',
      'home: [not, a, path]\nprograms: 3\n',
    ]) {
      p.write(broken);
      const status = await cli(['status', '--json'], { cwd: p.dir });
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(
        (JSON.parse(status.stdout) as Status).programs.map((x) => x.name),
        ['api', 'other'],
      );
      const logs = await cli(['logs', 'api', '-n', '1'], { cwd: p.dir });
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /^\S+Z api\[0\] out \| /);
    }
    const stop = await cli(['stop', 'other'], { cwd: p.dir });
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await d.status()).programs[1]!.state, 'stopped');
    const start = await cli(['start', 'other'], { cwd: p.dir });
    assert.equal(start.code, 0, start.stderr);
  });

  test('status --json into a closed pipe exits 0 without a trace', async () => {
    const r = await withClosedStdout(['status', '--json', '--home', p.home]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  test('logs -f into a pipe that closes (bosun logs | head) exits 0 without a trace', async () => {
    const r = await withClosedStdout(['logs', 'api', '-f', '--home', p.home], true);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  test('a config file that does not exist is "no such config file" (exit 2), for start as for the others', async () => {
    const start = await cli(['start', 'typo.yaml'], { cwd: p.dir });
    assert.equal(start.code, 2);
    assert.equal(start.stderr, 'bosun: no such config file: typo.yaml\n');
    const nested = await cli(['start', 'conf/bosun.yaml'], { cwd: p.dir });
    assert.equal(nested.code, 2);
    assert.match(nested.stderr, /no such config file: conf\/bosun\.yaml/);
    const status = await cli(['status', '-c', 'typo.yaml'], { cwd: p.dir });
    assert.equal(status.code, 2);
    assert.equal(status.stderr, 'bosun: no such config file: typo.yaml\n');
    const run = await cli(['run', 'typo.yaml'], { cwd: p.dir });
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'bosun: no such config file: typo.yaml\n');
  });

  test(
    'another user is told permission denied (exit 1), not that no daemon runs',
    { skip: isRoot ? false : 'needs root to act as another user' },
    async () => {
      const r = await cliAs('nobody', ['status', '--home', p.home]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `bosun: permission denied: the daemon on ${p.home} belongs to user root; use sudo\n`);
    },
  );
});

describe('client commands after the config changed', () => {
  test('editing home under a running daemon: status still finds it, and says where it runs', async () => {
    const p = tempProject(`home: ./first\ndashboard: false\nprograms:\n  api: { command: ${prog()} }\n`);
    let d: Daemon | undefined;
    try {
      d = await startDaemon(p.dir, join(p.dir, 'first'));
      p.write(`home: ./second\ndashboard: false\nprograms:\n  api: { command: ${prog()} }\n`);
      const r = await cli(['status', '--json'], { cwd: p.dir });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        (JSON.parse(r.stdout) as Status).programs.map((x) => x.name),
        ['api'],
      );
      assert.equal(
        r.stderr,
        `bosun: the daemon of ${p.config} runs on home ${join(p.dir, 'first')} (the config now says ${join(p.dir, 'second')})\n`,
      );
      // A home of another config is not taken for this one's.
      const other = tempProject(`home: ./second\nprograms:\n  api: { command: ${prog()} }\n`);
      try {
        assert.equal((await cli(['status'], { cwd: other.dir })).code, 3);
      } finally {
        other.cleanup();
      }
    } finally {
      await d?.stop();
      p.cleanup();
    }
  });
});

describe('bosun start', () => {
  test('a stale pid file naming a live process with "bosun" in its command line does not stop a start', async () => {
    const p = tempProject(`dashboard: false\nprograms:\n  api: { command: ${prog()} }\n`);
    const impostor = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', 'bosun', 'run'], { stdio: 'ignore' });
    try {
      await until(() => impostor.pid !== undefined, 'the impostor');
      mkdirSync(p.home, { mode: 0o700 });
      const pidFile = join(p.home, 'bosun.pid');
      // Written by a daemon that died an hour ago; its pid now belongs to the impostor.
      writeFileSync(pidFile, `${impostor.pid}\n`);
      const anHourAgo = Date.now() / 1000 - 3600;
      utimesSync(pidFile, anHourAgo, anHourAgo);
      const r = await cli(['start'], { cwd: p.dir });
      assert.equal(r.code, 0, r.stderr);
      await waitFor('status', async () => (await cli(['status', '--home', p.home])).code === 0);
      const down = await cli(['shutdown', '--home', p.home]);
      assert.equal(down.code, 0, down.stderr);
    } finally {
      impostor.kill('SIGKILL');
      await cli(['shutdown', '--home', p.home]);
      p.cleanup();
    }
  });

  test(
    'on a home it may not create: one line saying permission denied, exit 1, no trace',
    { skip: isRoot ? false : 'needs root to act as another user' },
    async () => {
      const m = `bosun-eacces-${process.pid}`;
      const p = tempProject(`dashboard: false\nprograms:\n  api: { command: ${prog()}, env: { BOSUN_TEST_VALUE: ${m} } }\n`);
      try {
        // nobody can read the config but not create .bosun beside it.
        chmodSync(p.dir, 0o755);
        const r = await cliAs('nobody', ['start', '-c', p.config]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr, `bosun: cannot create home ${p.home}: EACCES: permission denied, mkdir '${p.home}'\n`);
        assert.deepEqual(processesWith(m), []);
      } finally {
        p.cleanup();
      }
    },
  );
});
