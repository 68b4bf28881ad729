// Operating a fleet with real processes (issue 14): instances sharing one listen socket,
// rolling restarts and rolling reloads under a client that never pauses, a replacement that
// never becomes ready, name:index restarts, watch, cronRestart, envFile, --version, startup.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { freePort } from '../support.js';
import { cli, processesWith, prog, startDaemon, tempProject, waitFor, withDaemon, type Daemon } from './helpers.js';

const SERVER = fileURLToPath(new URL('./fixtures/listen-server.js', import.meta.url));
const server = () => `[${[process.execPath, SERVER].map((a) => JSON.stringify(a)).join(', ')}]`;

interface Answer {
  pid: number;
  listenPid: string;
  listenFds: string;
  listenFdNames: string;
  instance: string;
  value: string;
}

/** One request on a new connection (so every request is a new accept on the shared socket). */
function get(port: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as Answer) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Clients sending requests one after another without pause until stopped; counts answers by pid and failures. */
function load(port: number, clients = 3) {
  const pids = new Map<number, number>();
  const failures: string[] = [];
  let ok = 0;
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const a = await get(port);
        ok++;
        pids.set(a.pid, (pids.get(a.pid) ?? 0) + 1);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  });
  return {
    pids,
    failures,
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const webConfig = (port: number, extra = '') => `dashboard: false
programs:
  web:
    command: ${server()}
    instances: 2
    listen: ["127.0.0.1:${port}"]
    ready: { log: "listening" }
    readyTimeout: 3s
${extra}`;

/**
 * One instance at a time, each old process stopping only after its replacement was ready:
 * `web[i] ready pid=NEW` comes before `web[i] exited` of the old, which comes before instance i+1's replacement starts.
 */
function assertRolled(d: Daemon, before: (number | null)[], after: (number | null)[]): void {
  const at = (re: RegExp) => d.lines.findIndex((l) => re.test(l));
  let last = -1;
  for (let i = 0; i < before.length; i++) {
    const started = at(new RegExp(` web\\[${i}\\] started pid=${after[i]} replacing=${before[i]}$`));
    const ready = at(new RegExp(` web\\[${i}\\] ready pid=${after[i]}$`));
    const exited = d.lines.findIndex((l, n) => n > ready && l.includes(` web[${i}] exited `));
    assert.ok(last < started && started < ready && ready < exited, `instance ${i} rolled in order:\n${d.lines.join('\n')}`);
    last = exited;
  }
}

const livePids = (s: Awaited<ReturnType<Daemon['status']>>) => s.programs.filter((x) => x.name === 'web').map((x) => x.pid);

describe('bosun: shared sockets and rolling restarts', { concurrency: 1 }, () => {
  test('two instances serve one listen socket: both answer, each with LISTEN_FDS=1 and LISTEN_PID its own pid', async () => {
    const port = await freePort();
    await withDaemon(webConfig(port).replace('ready: { log: "listening" }', `ready: { http: "http://127.0.0.1:{port}/" }`), async (d) => {
      const s = await d.until('both ready', (s) => s.programs.every((x) => x.state === 'ready'));
      const pids = new Set(livePids(s));
      const seen = new Map<number, Answer>();
      await waitFor('an answer from each instance', async () => {
        const a = await get(port);
        seen.set(a.pid, a);
        return seen.size === 2;
      });
      assert.deepEqual(new Set(seen.keys()), pids, 'the answers come from the two instances');
      for (const a of seen.values()) {
        assert.equal(a.listenFds, '1');
        assert.equal(a.listenPid, String(a.pid));
        assert.equal(a.listenFdNames, 'web');
      }
      assert.deepEqual(new Set([...seen.values()].map((a) => a.instance)), new Set(['0', '1']));
    });
  });

  test('a rolling restart under a client that never pauses fails no request, and both pids change', async () => {
    const port = await freePort();
    await withDaemon(webConfig(port), async (d, p) => {
      const before = livePids(await d.until('both ready', (s) => s.programs.every((x) => x.state === 'ready')));
      const l = load(port);
      await waitFor('the client to get answers', () => l.ok >= 20);
      const r = await cli(['restart', 'web', '--rolling', '--home', p.home]);
      assert.equal(r.code, 0, r.stderr);
      const after = livePids(await d.status());
      const answered = l.ok;
      await waitFor('answers from the new processes', () => after.every((pid) => (l.pids.get(pid!) ?? 0) > 0) && l.ok > answered + 20);
      await l.stop();
      assert.deepEqual(l.failures, [], `${l.failures.length} of ${l.ok + l.failures.length} requests failed`);
      assert.ok(
        after.every((pid, i) => pid !== null && pid !== before[i] && !before.includes(pid)),
        `${before} -> ${after}`,
      );
      const s = await d.status();
      assert.deepEqual(
        s.programs.map((x) => [x.state, x.restarts, x.reason]),
        [
          ['ready', 0, 'command'],
          ['ready', 0, 'command'],
        ],
      );
      assertRolled(d, before, after);
    });
  });

  test('a reload of a changed env with rolling: true fails no request; both pids change and serve the new value', async () => {
    const port = await freePort();
    const yaml = (value: string) => webConfig(port, `    rolling: true\n    env: { BOSUN_TEST_VALUE: "${value}" }\n`);
    await withDaemon(yaml('one'), async (d, p) => {
      const before = livePids(await d.until('both ready', (s) => s.programs.every((x) => x.state === 'ready')));
      const l = load(port);
      await waitFor('the client to get answers', () => l.ok >= 20);
      p.write(yaml('two'));
      const r = await cli(['reload', '--home', p.home]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /changed \[web\]/);
      const after = livePids(await d.status());
      await waitFor('answers from the new processes', () => after.every((pid) => (l.pids.get(pid!) ?? 0) > 0));
      await l.stop();
      assert.deepEqual(l.failures, [], `${l.failures.length} of ${l.ok + l.failures.length} requests failed`);
      assert.ok(
        after.every((pid) => pid !== null && !before.includes(pid)),
        `${before} -> ${after}`,
      );
      assertRolled(d, before, after);
      const values = new Set<string>();
      for (let i = 0; i < 10; i++) values.add((await get(port)).value);
      assert.deepEqual(values, new Set(['two']));
    });
  });

  test('a replacement that never becomes ready stops the roll: the old instance still serves and status says why', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'bosun-notready-'));
    const flag = join(dir, 'not-ready');
    try {
      await withDaemon(
        webConfig(port, `    readyTimeout: 1500ms\n    env: { NOT_READY_FILE: ${JSON.stringify(flag)} }\n`).replace(
          '    readyTimeout: 3s\n',
          '',
        ),
        async (d, p) => {
          const before = livePids(await d.until('both ready', (s) => s.programs.every((x) => x.state === 'ready')));
          writeFileSync(flag, '');
          const r = await cli(['restart', 'web', '--rolling', '--home', p.home]);
          assert.equal(r.code, 1, r.stdout);
          assert.match(r.stderr, /rolling restart stopped at instance 0: its replacement \(pid \d+\) did not become ready/);
          assert.match(r.stderr, /instance 0 keeps its old process/);
          const s = await d.status();
          assert.deepEqual(livePids(s), before, 'both old processes still run');
          assert.equal(s.programs[0]!.state, 'ready');
          assert.equal(s.programs[0]!.reason, 'ready-timeout');
          assert.match(s.programs[0]!.detail!, /rolling restart stopped at instance 0/);
          const answers = new Set<number>();
          for (let i = 0; i < 20; i++) answers.add((await get(port)).pid);
          assert.ok(
            [...answers].every((pid) => before.includes(pid)),
            'only the old processes answer',
          );
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('restart web:1 changes only instance 1', async () => {
    const port = await freePort();
    await withDaemon(webConfig(port), async (d, p) => {
      const [p0, p1] = livePids(await d.until('both ready', (s) => s.programs.every((x) => x.state === 'ready')));
      const r = await cli(['restart', 'web:1', '--home', p.home]);
      assert.equal(r.code, 0, r.stderr);
      const s = await d.until('instance 1 ready again', (s) => s.programs[1]!.state === 'ready');
      assert.equal(s.programs[0]!.pid, p0);
      assert.notEqual(s.programs[1]!.pid, p1);
      assert.notEqual(s.programs[1]!.pid, null);
    });
  });
});

describe('bosun: watch, cronRestart, envFile, --version, startup', { concurrency: 1 }, () => {
  test("watch: touching a file restarts once after the debounce; the program's own log in the home does not", async () => {
    await withDaemon(
      `dashboard: false
programs:
  app: { command: ${prog('--tick', 40)}, watch: { paths: ["."], debounce: 300ms } }
`,
      async (d, p) => {
        const started = () => d.lines.filter((l) => / app\[0\] started /.test(l)).length;
        const first = (await d.until('running', (s) => s.programs[0]!.state === 'running')).programs[0]!.pid;
        mkdirSync(join(p.dir, 'src'));
        writeFileSync(join(p.dir, 'src', 'index.js'), 'changed');
        const s = await d.until('the watch restart', (s) => s.programs[0]!.pid !== first && s.programs[0]!.state === 'running');
        assert.equal(s.programs[0]!.reason, 'watch');
        assert.equal(s.programs[0]!.restarts, 0, 'a watch restart is a command, not a crash');
        // The program keeps writing its log inside the watched folder (in the home): no restart for that.
        const log = join(p.home, 'logs', 'app-0.log');
        const ticks = () =>
          readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l === 'tick').length;
        const now = ticks();
        await waitFor('ten more ticks in the log', () => ticks() >= now + 10);
        assert.equal(started(), 2, d.lines.join('\n'));
      },
    );
  });

  test('cronRestart with a per-second schedule restarts the program with reason cron', async () => {
    await withDaemon(
      `dashboard: false
programs:
  app: { command: ${prog()}, cronRestart: "* * * * * *" }
`,
      async (d) => {
        const first = (await d.until('running', (s) => s.programs[0]!.state === 'running')).programs[0]!.pid;
        const s = await d.until('the cron restart', (s) => s.programs[0]!.pid !== first && s.programs[0]!.pid !== null, 5000);
        assert.equal(s.programs[0]!.reason, 'cron');
        assert.equal(s.programs[0]!.restarts, 0);
      },
    );
  });

  test('envFile: its values reach the program and env wins over them; a missing file is a config error', async () => {
    const p = tempProject('');
    try {
      writeFileSync(join(p.dir, '.env'), '# comment\nA=from-file\nB="from file"\nexport C=c\n');
      p.write(`dashboard: false
programs:
  app: { command: 'echo "A=$A B=$B C=$C"; sleep 60', shell: true, envFile: .env, env: { B: from-env } }
`);
      const d = await startDaemon(p.dir, p.home);
      try {
        await waitFor('the program to print its env', () => {
          try {
            return readFileSync(join(p.home, 'logs', 'app-0.log'), 'utf8').includes('A=from-file B=from-env C=c');
          } catch {
            return false;
          }
        });
      } finally {
        await d.stop();
      }
      p.write(`dashboard: false\nprograms:\n  app: { command: ${prog()}, envFile: missing.env }\n`);
      const r = await cli(['run', '--home', join(p.dir, 'h2')], { cwd: p.dir });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^programs\.app\.envFile: cannot read \S+missing\.env \(no such file\)$/m);
    } finally {
      p.cleanup();
    }
  });

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), pkg.version);
    }
  });

  test('startup prints a systemd unit that runs bosun run for this config and home, with KillMode=process; --install writes it', async () => {
    const p = tempProject(`programs:\n  app: { command: ${prog()}, killTimeout: 20s }\n`);
    try {
      const r = await cli(['startup', '--home', join(p.dir, 'state')], { cwd: p.dir });
      assert.equal(r.code, 0, r.stderr);
      const unit = r.stdout;
      const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='))!;
      assert.ok(exec.endsWith(` run ${p.config} --home ${join(p.dir, 'state')}`), exec);
      assert.ok(exec.startsWith(`ExecStart=${process.execPath} `), exec);
      assert.match(unit, /^KillMode=process$/m);
      assert.match(unit, /^# KillMode=process: when the daemon dies, systemd must not kill the programs/m);
      assert.match(unit, /^Restart=always$/m);
      assert.match(unit, /^TimeoutStopSec=50$/m, "the programs' killTimeouts fit in the stop timeout");
      assert.match(unit, new RegExp(`^WorkingDirectory=${p.dir}$`, 'm'));
      const dir = join(p.dir, 'units');
      const inst = await cli(['startup', '--install', '--unit-dir', dir], { cwd: p.dir });
      assert.equal(inst.code, 0, inst.stderr);
      const file = /^wrote (\S+)$/m.exec(inst.stdout)![1]!;
      assert.match(file, /\/units\/bosun-.+\.service$/);
      const written = readFileSync(file, 'utf8');
      assert.ok(written.includes(` run ${p.config} --home ${p.home}`), written);
      assert.match(inst.stdout, /systemctl (--user )?daemon-reload/);
      assert.match(inst.stdout, /systemctl (--user )?enable --now bosun-/);
    } finally {
      p.cleanup();
    }
  });
});

describe("bosun: sockets and rolls across a daemon's death", { concurrency: 1 }, () => {
  const alive = (pid: number) => {
    try {
      return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    } catch {
      return false;
    }
  };
  /** The program processes carrying `mark` (the daemons aside: a detached one is handed its config, mark included). */
  const programsWith = (mark: string) =>
    processesWith(mark).filter((pid) => {
      try {
        return !readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('cli/main.js');
      } catch {
        return false;
      }
    });
  const status = async (home: string) =>
    JSON.parse((await cli(['status', '--json', '--home', home])).stdout) as Awaited<ReturnType<Daemon['status']>>;
  const killDaemon = async (home: string) => {
    const daemon = Number(readFileSync(join(home, 'bosun.pid'), 'utf8').trim());
    process.kill(daemon, 'SIGKILL');
    await waitFor('the daemon to be gone', () => !alive(daemon));
  };

  test("adopted instances keep serving the earlier daemon's socket; a rolling restart then restarts the program whole and binds it anew", async () => {
    const port = await freePort();
    const mark = `ops-adopt-${process.pid}-${Date.now()}`;
    const p = tempProject(webConfig(port, `    env: { BOSUN_TEST_MARK: "${mark}" }\n`));
    try {
      assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
      const before = livePids(
        await waitFor('both ready', async () => {
          const s = await status(p.home);
          return s.programs.every((x) => x.state === 'ready') ? s : undefined;
        }),
      );
      await killDaemon(p.home);
      // No daemon: the instances still accept on the socket they were handed.
      assert.ok(before.includes((await get(port)).pid));
      assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
      const adopted = livePids(
        await waitFor('both adopted', async () => {
          const s = await status(p.home);
          return s.programs.every((x) => x.state === 'ready') ? s : undefined;
        }),
      );
      assert.deepEqual(adopted, before, 'same pids');
      const r = await cli(['restart', 'web', '--rolling', '--home', p.home]);
      assert.equal(r.code, 0, r.stderr);
      const after = livePids(await status(p.home));
      assert.ok(
        after.every((pid) => pid !== null && !before.includes(pid)),
        `${before} -> ${after}`,
      );
      const seen = new Set<number>();
      await waitFor('both new instances to answer on the socket bound anew', async () => {
        seen.add((await get(port)).pid);
        return after.every((pid) => seen.has(pid!));
      });
      assert.equal(programsWith(mark).length, 2);
    } finally {
      await cli(['shutdown', '--home', p.home]).catch(() => undefined);
      for (const pid of processesWith(mark)) process.kill(pid, 'SIGKILL');
      p.cleanup();
    }
  });

  test('a daemon killed in the middle of a roll leaves no process behind: the next one keeps one process per instance', async () => {
    const port = await freePort();
    const mark = `ops-midroll-${process.pid}-${Date.now()}`;
    const dir = mkdtempSync(join(tmpdir(), 'bosun-midroll-'));
    const flag = join(dir, 'not-ready');
    const p = tempProject(
      webConfig(port, `    readyTimeout: 60s\n    env: { BOSUN_TEST_MARK: "${mark}", NOT_READY_FILE: ${JSON.stringify(flag)} }\n`).replace(
        '    readyTimeout: 3s\n',
        '',
      ),
    );
    try {
      assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
      await waitFor('both ready', async () => (await status(p.home)).programs.every((x) => x.state === 'ready'));
      writeFileSync(flag, '');
      // The replacement of web[0] never becomes ready: the roll waits on it.
      const roll = cli(['restart', 'web', '--rolling', '--home', p.home]);
      await waitFor('the replacement of web[0] to run', () => programsWith(mark).length === 3);
      await killDaemon(p.home);
      await roll;
      assert.equal(programsWith(mark).length, 3, 'old instances and the replacement outlive the daemon');
      assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
      await waitFor('one process per instance', async () => {
        const s = await status(p.home);
        return s.programs.every((x) => x.pid !== null) && programsWith(mark).length === 2;
      });
      const s = await status(p.home);
      assert.deepEqual(new Set(programsWith(mark)), new Set(livePids(s)), 'the processes that run are the ones status shows');
    } finally {
      await cli(['shutdown', '--home', p.home]).catch(() => undefined);
      for (const pid of processesWith(mark)) process.kill(pid, 'SIGKILL');
      p.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bosun logs: time and stream on every line, -n across rotated files, --raw', { concurrency: 1 }, () => {
  test('each line shows its time and stream; -n reads back into rotated files; --raw prints the bytes as written', async () => {
    await withDaemon(
      `dashboard: false
programs:
  talk:
    command: 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo "out $i"; echo "err $i" >&2; done; sleep 60'
    shell: true
    logs: { maxSize: 4KB, keep: 3 }
`,
      async (_d, p) => {
        const log = join(p.home, 'logs', 'talk-0.log');
        const all = () => [`${log}.3`, `${log}.2`, `${log}.1`, log].map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('');
        await waitFor('all 800 lines written', () => all().includes('out 400\n') && all().includes('err 400\n'));
        assert.ok(readFileSync(`${log}.1`, 'utf8').length > 0, 'the log was rotated');
        assert.ok(!readFileSync(log, 'utf8').includes('out 1\n'), 'the first lines are in a rotated file only');
        const r = await cli(['logs', 'talk', '-n', '800', '--home', p.home]);
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.split('\n').filter((l) => l !== '');
        assert.equal(lines.length, 800, 'all 800 lines, back across the rotated files');
        const parsed = lines.map((l) => /^(\d{4}-\d\d-\d\dT[\d:.]+Z) talk\[0\] (out|err) \| (out|err) (\d+)$/.exec(l));
        assert.ok(
          parsed.every((m) => m !== null),
          lines.find((_l, i) => parsed[i] === null),
        );
        assert.ok(
          parsed.every((m) => m![2] === m![3]),
          'each line is tagged with the stream it was written to',
        );
        for (const stream of ['out', 'err']) {
          const numbers: number[] = parsed.filter((m) => m![2] === stream).map((m) => Number(m![4]));
          assert.deepEqual(
            numbers,
            Array.from({ length: 400 }, (_, i) => i + 1),
            `${stream} lines in order, none lost`,
          );
        }
        const raw = await cli(['logs', 'talk', '-n', '3', '--raw', '--home', p.home]);
        assert.equal(raw.code, 0, raw.stderr);
        const file = readFileSync(log, 'utf8').split('\n');
        assert.equal(raw.stdout, `${file.slice(-4, -1).join('\n')}\n`, 'the last 3 lines exactly as in the file');
      },
    );
  });
});
