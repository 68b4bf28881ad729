// The daemon's behaviour with real processes: start and stop order, restart policies and
// backoff, intensity, memoryLimit, activity timeout, reload, and no process left behind.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cli, jitteredAround, prog, processesWith, restarting, startDaemon, tempProject, waitFor, withDaemon } from './helpers.js';
import { freePort } from '../support.js';

/** Runs `body` against a daemon on a fresh project; always shuts it down and removes the dir. */
const at = (line: string) => Date.parse(line.split(' ')[0]!);
const alive = (pid: number) => existsSync(`/proc/${pid}`);

describe('bosun daemon', { concurrency: 2 }, () => {
  test('starts in after order once dependencies are ready, and stops in reverse order', async () => {
    const p = tempProject(`dashboard: false
programs:
  web: { command: ${prog()}, after: [worker] }
  worker: { command: ${prog('--ready-after', 200)}, after: [db], ready: { log: "ready now" } }
  db: { command: ${prog('--ready-after', 400)}, ready: { log: "ready now" } }
`);
    const d = await startDaemon(p.dir, p.home);
    try {
      const webStarted = await d.line(/ web\[0\] started pid=\d+$/);
      const dbStarted = await d.line(/ db\[0\] started pid=/);
      const dbReady = await d.line(/ db\[0\] ready$/);
      const workerStarted = await d.line(/ worker\[0\] started pid=/);
      const workerReady = await d.line(/ worker\[0\] ready$/);
      assert.ok(
        dbStarted < dbReady && dbReady < workerStarted && workerStarted < workerReady && workerReady < webStarted,
        d.lines.join('\n'),
      );
      const s = await d.until('all up', (s) => s.programs.every((x) => x.pid !== null));
      assert.deepEqual(
        s.programs.map((x) => [x.name, x.state]),
        [
          ['web', 'running'],
          ['worker', 'ready'],
          ['db', 'ready'],
        ],
      );
      // web has no ready check: it is `running` once spawned, maybe before its SIGTERM handler is
      // in place. Its first line comes after the handler, so wait for it to exit 0 on SIGTERM.
      await waitFor(
        'web to print its first line',
        () => existsSync(`${p.home}/logs/web-0.log`) && /pid=/.test(readFileSync(`${p.home}/logs/web-0.log`, 'utf8')),
      );
      process.kill(d.pid, 'SIGTERM');
      assert.equal(await d.exited, 0);
      const exited = (name: string) => d.lines.findIndex((l) => l.includes(` ${name}[0] exited`));
      assert.ok(exited('web') >= 0 && exited('web') < exited('worker') && exited('worker') < exited('db'), d.lines.join('\n'));
      assert.ok(d.lines.some((l) => / db\[0\] stopped$/.test(l)));
      assert.match(
        d.lines.find((l) => l.includes(' exited '))!,
        /^\d{4}-\d\d-\d\dT\S+Z web\[0\] exited code=0 signal=null$/,
      );
    } finally {
      await d.stop();
      p.cleanup();
    }
  });

  test('readiness by IPC message, by HTTP and by delay gates the programs that come after', async () => {
    const port = await freePort();
    await withDaemon(
      `dashboard: false
programs:
  last: { command: ${prog()}, after: [ipc, http, delayed] }
  ipc: { command: ${prog('--ipc-ready-after', 300)}, ready: { message: true } }
  http: { command: ${prog('--http-after', 300)}, env: { PORT: "${port}", READY_PATH: "/ready-${process.pid}" }, ready: { http: "http://127.0.0.1:${port}/ready-${process.pid}" } }
  delayed: { command: ${prog()}, ready: { delay: 400ms } }
`,
      async (d) => {
        const lastStarted = await d.line(/ last\[0\] started pid=/);
        for (const name of ['ipc', 'http', 'delayed']) {
          const ready = d.lines.findIndex((l) => l.endsWith(` ${name}[0] ready`));
          assert.ok(ready >= 0 && ready < lastStarted, `${name} ready before last started:\n${d.lines.join('\n')}`);
          const started = d.lines.findIndex((l) => l.includes(` ${name}[0] started`));
          assert.ok(at(d.lines[ready]!) - at(d.lines[started]!) >= 250, `${name} was not ready at once:\n${d.lines.join('\n')}`);
        }
        const s = await d.status();
        assert.deepEqual(
          s.programs.map((x) => x.state),
          ['running', 'ready', 'ready', 'ready'],
        );
      },
    );
  });

  test('restarts a program killed from outside after the configured backoff; never and on-failure are not restarted', async () => {
    await withDaemon(
      `dashboard: false
supervisor: { backoff: { initial: 300ms, factor: 2, max: 5s } }
programs:
  always: { command: ${prog()} }
  never: { command: ${prog()}, restart: never }
  onfail: { command: ${prog('--exit-after', 200, '--code', 0)}, restart: on-failure }
  onfailcrash: { command: ${prog('--exit-after', 200, '--code', 4)}, restart: on-failure, backoff: { initial: 5s } }
`,
      async (d) => {
        const s0 = await d.until(
          'always and never running',
          (s) => s.programs.filter((x) => x.pid !== null && (x.name === 'always' || x.name === 'never')).length === 2,
        );
        const pidOf = (s: typeof s0, n: string) => s.programs.find((x) => x.name === n)!;
        const oldAlways = pidOf(s0, 'always').pid!;
        process.kill(oldAlways, 'SIGKILL');
        process.kill(pidOf(s0, 'never').pid!, 'SIGKILL');
        const exitedLine = d.lines[await d.line(/ always\[0\] exited code=null signal=SIGKILL$/)]!;
        const restartingLine = d.lines[await d.line(restarting('always'))]!;
        assert.ok(jitteredAround(restartingLine, 300), restartingLine);
        const restartedLine = d.lines[await d.line(new RegExp(` always\\[0\\] started pid=(?!${oldAlways}$)\\d+$`))]!;
        assert.ok(at(restartedLine) - at(exitedLine) >= 270, `${exitedLine}\n${restartedLine}`);
        const s = await d.until(
          'the policies to settle',
          (s) =>
            pidOf(s, 'always').pid !== null &&
            pidOf(s, 'onfail').state === 'stopped' &&
            pidOf(s, 'never').state === 'failed' &&
            pidOf(s, 'onfailcrash').state === 'backoff',
        );
        assert.equal(pidOf(s, 'always').restarts, 1);
        assert.equal(pidOf(s, 'always').state, 'running');
        assert.deepEqual(
          pidOf(s, 'never').lastExit && { code: pidOf(s, 'never').lastExit!.code, signal: pidOf(s, 'never').lastExit!.signal },
          { code: null, signal: 'SIGKILL' },
        );
        assert.equal(pidOf(s, 'never').pid, null);
        assert.equal(pidOf(s, 'never').uptimeMs, 0);
        assert.equal(pidOf(s, 'never').restarts, 0);
        assert.equal(pidOf(s, 'onfail').lastExit!.code, 0);
        assert.equal(pidOf(s, 'onfail').restarts, 0);
        assert.equal(d.lines.filter((l) => / (never|onfail)\[0\] started/.test(l)).length, 2, 'never and onfail started once each');
        assert.ok(
          d.lines.some((l) => restarting('onfailcrash').test(l) && jitteredAround(l, 5000)),
          d.lines.join('\n'),
        );
        assert.ok(d.lines.some((l) => / never\[0\] failed reason=signal /.test(l)));
        assert.equal(pidOf(s, 'never').reason, 'signal');
        assert.ok(d.lines.some((l) => / onfail\[0\] stopped$/.test(l)));
      },
    );
  });

  test('more restarts than intensity within period marks that program failed, others keep running, status says why', async () => {
    await withDaemon(
      `dashboard: false
supervisor: { intensity: 2, period: 30s, backoff: { initial: 50ms, factor: 1 } }
programs:
  crashy: { command: ${prog('--exit-after', 50, '--code', 3)} }
  steady: { command: ${prog()} }
`,
      async (d) => {
        const first = await d.until('steady running', (s) => s.programs[1]!.pid !== null);
        const steadyPid = first.programs[1]!.pid;
        const s = await d.until('crashy failed', (s) => s.programs[0]!.state === 'failed');
        assert.equal(s.programs[0]!.restarts, 2);
        assert.equal(s.programs[0]!.pid, null);
        assert.equal(s.programs[0]!.reason, 'intensity');
        assert.match(s.programs[0]!.detail!, /restart intensity exceeded: more than 2 restarts in 30000ms \(last exit code=3/);
        assert.equal(s.programs[1]!.state, 'running');
        assert.equal(s.programs[1]!.pid, steadyPid);
        await d.line(/ crashy\[0\] failed reason=intensity detail="restart intensity exceeded/);
        const table = await cli(['status', '--home', d.home]);
        assert.equal(table.code, 0);
        assert.match(table.stdout, /crashy\s+0\s+-\s+failed .*restart intensity exceeded/);
      },
    );
  });

  test('a command that cannot start fails after intensity, and what waits for it never starts', async () => {
    // A missing binary is refused by the config's checks; this one passes them (an executable
    // file) and still cannot be spawned: its interpreter does not exist.
    const dir = mkdtempSync(join(tmpdir(), 'bosun-ghost-'));
    const ghost = join(dir, 'ghost');
    writeFileSync(ghost, '#!/no/such/binary\n', { mode: 0o755 });
    await withDaemon(
      `dashboard: false
supervisor: { intensity: 2, backoff: { initial: 50ms } }
programs:
  ghost: { command: [${JSON.stringify(ghost)}] }
  dep: { command: ${prog()}, after: [ghost] }
`,
      async (d) => {
        const s = await d.until('ghost failed', (s) => s.programs[0]!.state === 'failed');
        assert.equal(s.programs[0]!.reason, 'intensity');
        assert.match(s.programs[0]!.detail!, /restart intensity exceeded.*reason=spawn-error: cannot start \/.*\/ghost/);
        // DESIGN: a program whose `after` programs are not ready is `waiting`, naming them.
        assert.equal(s.programs[1]!.state, 'waiting');
        assert.deepEqual(s.programs[1]!.waitingFor, ['ghost']);
        assert.equal(s.programs[1]!.pid, null);
        assert.equal(
          d.lines.some((l) => l.includes(' dep[0] started')),
          false,
        );
      },
    ).finally(() => rmSync(dir, { recursive: true, force: true }));
  });

  test('a program whose tree grows past memoryLimit is restarted; a silent one past activityTimeout too', async () => {
    await withDaemon(
      `dashboard: false
supervisor: { backoff: { initial: 100ms } }
programs:
  hog: { command: ${prog('--grow-mb', 25)}, memoryLimit: 160MB }
  quiet: { command: ${prog()}, activityTimeout: 700ms, killTimeout: 500ms }
`,
      async (d) => {
        // The fixture exits 0 on SIGTERM, so the exit itself looks clean; the reason says why.
        await d.line(/ hog\[0\] exited code=0 signal=null reason=memory-limit$/, 20_000);
        assert.ok(jitteredAround(d.lines[await d.line(restarting('hog'))]!, 100));
        await d.line(/ quiet\[0\] exited code=0 signal=null reason=activity-timeout$/);
        assert.ok(jitteredAround(d.lines[await d.line(restarting('quiet'))]!, 100));
        const s = await d.until('both restarted', (s) => s.programs.every((x) => x.restarts >= 1 && x.pid !== null));
        assert.ok(s.programs.every((x) => x.lastExit !== undefined));
        // The reason is the kind of what stopped it, and it stays after the restart.
        assert.deepEqual(
          s.programs.map((x) => [x.name, x.reason]),
          [
            ['hog', 'memory-limit'],
            ['quiet', 'activity-timeout'],
          ],
        );
        assert.equal(d.lines.filter((l) => / hog\[0\] started/.test(l)).length >= 2, true);
      },
    );
  });

  test('reload restarts only the changed program, starts added ones and drops removed ones', async () => {
    const conf = (value: string, third: string) => `dashboard: false
programs:
  a: { command: ${prog()}, env: { BOSUN_TEST_VALUE: ${value} } }
  b: { command: ${prog()} }
  ${third}: { command: ${prog()} }
`;
    await withDaemon(conf('one', 'c'), async (d, p) => {
      const before = await d.until('all running', (s) => s.programs.every((x) => x.pid !== null));
      p.write(conf('two', 'd'));
      const r = await cli(['reload', '--home', d.home]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /added \[d\] removed \[c\] changed \[a\]/);
      const after = await d.status();
      assert.deepEqual(
        after.programs.map((x) => x.name),
        ['a', 'b', 'd'],
      );
      assert.notEqual(after.programs[0]!.pid, before.programs[0]!.pid);
      assert.equal(after.programs[1]!.pid, before.programs[1]!.pid, 'b must keep its pid');
      assert.ok(after.programs.every((x) => x.pid !== null && x.restarts === 0));
      assert.equal(alive(before.programs[2]!.pid!), false, 'removed c is gone');
      const logs = await waitFor('a to print its new env', async () => {
        const l = await cli(['logs', 'a', '-n', '1', '--home', d.home]);
        return /env=two/.test(l.stdout) ? l : undefined;
      });
      assert.match(logs.stdout, /^\d{4}-\d\d-\d\dT\S+Z a\[0\] out \| pid=\d+ env=two\n$/);
      p.write('programs:\n  a: { command: [node], restart: sometimes }\n');
      const bad = await cli(['reload', '--home', d.home]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^programs\.a\.restart: expected always \| on-failure \| never, got 'sometimes'$/m);
      assert.equal((await d.status()).programs.length, 3, 'a bad reload changes nothing');
    });
  });

  test('stop all, then shutdown: no process of any tree is left and the daemon exits 0', async () => {
    const p = tempProject('');
    p.write(`dashboard: false
programs:
  tree1: { command: ${prog('--grandchild')}, env: { BOSUN_TEST_MARK: "${p.dir}" } }
  tree2: { command: ${prog('--grandchild', '--ignore-term')}, env: { BOSUN_TEST_MARK: "${p.dir}" }, killTimeout: 400ms }
`);
    const d = await startDaemon(p.dir, p.home);
    try {
      await waitFor('two trees of three processes', () => processesWith(p.dir).length >= 6);
      const r = await cli(['stop', 'all', '--home', d.home]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(processesWith(p.dir), [], 'stop returns once every process of the trees is gone');
      const s = await d.status();
      assert.ok(
        s.programs.every((x) => x.state === 'stopped' && x.pid === null && x.memoryBytes === 0),
        JSON.stringify(s),
      );
      const shut = await cli(['shutdown', '--home', d.home]);
      assert.equal(shut.code, 0);
      assert.equal(alive(d.pid), false, 'shutdown returns after the daemon exited');
      assert.equal(await d.exited, 0);
      assert.equal(existsSync(`${p.home}/bosun.sock`), false);
      assert.equal(existsSync(`${p.home}/bosun.pid`), false);
      assert.equal((await cli(['status', '--home', d.home])).code, 3);
    } finally {
      await d.stop();
      p.cleanup();
    }
  });

  test('bosun start runs the daemon detached and returns once it is up, with its output in daemon.log', async () => {
    const p = tempProject(`dashboard: false\nprograms:\n  api: { command: ${prog('--say', 'hello')} }\n`);
    try {
      const r = await cli(['start'], { cwd: p.dir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /daemon started \(pid \d+\)/);
      const st = await cli(['status', '--json'], { cwd: p.dir });
      assert.equal(st.code, 0, 'the daemon answers as soon as start returned');
      const again = await cli(['start'], { cwd: p.dir });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already running .*\(pid \d+\)/);
      await waitFor('the lifecycle line in daemon.log', async () =>
        /api\[0\] started pid=\d+/.test((await import('node:fs')).readFileSync(`${p.home}/daemon.log`, 'utf8')),
      );
      assert.equal((await cli(['shutdown'], { cwd: p.dir })).code, 0);
    } finally {
      await cli(['shutdown', '--home', p.home]);
      p.cleanup();
    }
  });
});
