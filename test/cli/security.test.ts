// Who gets in, tried as another local user and as a careless home: no program output from any
// route, stream, file or socket without the token; a home someone else could change is refused;
// no file in home is written through a symbolic link; logs are 0600; the token is new on every
// start and gone after shutdown; failed control replies carry a stable code the dashboard maps.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { request, type Failure } from '../../src/cli/control.js';
import { LogFile } from '../../src/process/log-file.js';
import { PROGRAM_LOG_MODE } from '../../src/fleet/log-files.js';
import { cli, prog, startDaemon, tempProject, waitFor, type Daemon } from './helpers.js';

const PROBE = fileURLToPath(new URL('./fixtures/probe.js', import.meta.url));
const isRoot = process.getuid?.() === 0;
const NOT_ROOT = !isRoot && 'needs root to create a throwaway user (useradd) and run as it (runuser)';

/** A throwaway system user without a home or login shell; remove() deletes it (and its group). */
function throwawayUser(): { name: string; uid: number; remove(): void } {
  const name = `bosun-t${process.pid}-${Math.floor(Math.random() * 1e6)}`.slice(0, 31);
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  return { name, uid, remove: () => execFileSync('userdel', [name]) };
}

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60_000, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) =>
      err !== null ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

async function dashboardBase(d: Daemon): Promise<string> {
  return d.lines[await d.line(/^dashboard http:\/\/127\.0\.0\.1:\d+\/$/)]!.split(' ')[1]!;
}

/** Sends `text` as it is (no JSON encoding) and resolves with the parsed reply. */
function raw(socket: string, text: string): Promise<Failure> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let got = '';
    s.on('connect', () => s.write(text));
    s.on('data', (d) => (got += d));
    s.on('error', reject);
    s.on('close', () => resolve(JSON.parse(got) as Failure));
  });
}

describe('another local user', () => {
  test(
    'gets no program output, env or command line from any route, stream, file or socket without the token',
    { skip: NOT_ROOT, timeout: 120_000 },
    async () => {
      const secret = `out-${Math.random().toString(36).slice(2)}`;
      const secretEnv = `env-${Math.random().toString(36).slice(2)}`;
      const secretArg = `arg-${Math.random().toString(36).slice(2)}`;
      const p = tempProject('');
      const probeDir = mkdtempSync(join(tmpdir(), 'bosun-probe-'));
      const user = throwawayUser();
      let d: Daemon | undefined;
      try {
        // The other user may walk to the home and to the outside log's folder; the modes must stop them.
        chmodSync(p.dir, 0o755);
        chmodSync(probeDir, 0o755);
        mkdirSync(join(p.dir, 'out'), { mode: 0o755 });
        const extraLog = join(p.dir, 'out', 'other.log');
        copyFileSync(PROBE, join(probeDir, 'probe.mjs'));
        chmodSync(join(probeDir, 'probe.mjs'), 0o644);
        p.write(`dashboard: { port: 0 }
programs:
  api: { command: ${prog('--say', secret, '--tick', 200)}, env: { BOSUN_TEST_VALUE: ${secretEnv} } }
  other: { command: ${prog('--say', `${secret} ${secretArg}`)}, logs: { file: ${JSON.stringify(extraLog)} } }
`);
        d = await startDaemon(p.dir, p.home);
        const base = await dashboardBase(d);
        const token = readFileSync(join(p.home, 'token'), 'utf8').trim();
        const probe = (asUser: boolean) =>
          run(
            asUser ? 'runuser' : process.execPath,
            [
              ...(asUser ? ['-u', user.name, '--', process.execPath] : []),
              join(probeDir, 'probe.mjs'),
              base,
              p.home,
              extraLog,
              ...(asUser ? [] : [token]),
            ],
            probeDir,
          );

        // With the token the probe does see the output: so what it misses without is held back, not absent.
        const owner = JSON.parse(
          await waitFor("the secret in the owner's event stream", async () => {
            const got = await probe(false);
            return got.includes(secret) ? got : undefined;
          }),
        ) as { dashboard: Record<string, { status: number; text: string }> };
        assert.equal(owner.dashboard['bearer GET /api/events']!.status, 200);
        assert.match(owner.dashboard['bearer GET /api/events']!.text, new RegExp(secret));
        assert.equal(owner.dashboard['bearer GET /api/status']!.status, 200);

        const text = await probe(true);
        const other = JSON.parse(text) as {
          files: Record<string, { ok: boolean; code?: string }>;
          socket: { ok: boolean; code?: string };
          dashboard: Record<string, { status: number; text: string }>;
        };
        const leaks = (s: string) =>
          [...Object.entries(other.files), ['socket', other.socket] as const, ...Object.entries(other.dashboard)]
            .filter(([, got]) => JSON.stringify(got).includes(s))
            .map(([where]) => where);
        for (const s of [secret, secretEnv, secretArg, token])
          assert.deepEqual(leaks(s), [], `the other user got ${s === token ? 'the token' : s} from these`);
        assert.equal(
          [secret, secretEnv, secretArg, token].some((s) => text.includes(s)),
          false,
        );
        for (const [name, got] of Object.entries(other.files))
          assert.deepEqual([name, got.ok, got.code], [name, false, 'EACCES'], `${name} is closed to others`);
        assert.deepEqual([other.socket.ok, other.socket.code], [false, 'EACCES'], 'the control socket is 0600');
        for (const [route, got] of Object.entries(other.dashboard)) {
          const open = / GET \/(metrics)?(\?|$)/.test(route);
          if (open) assert.equal(got.status, 200, `${route} is open`);
          else
            assert.ok(got.status === 403 || got.status === 404 || got.status === 405, `${route}: ${got.status} ${got.text.slice(0, 200)}`);
        }
        for (const route of [
          'none GET /api/status',
          'none GET /api/events',
          'query GET /api/events',
          'cookie GET /api/events',
          'bearer GET /api/events',
          'none POST /api/programs/api/restart',
        ]) {
          assert.equal(other.dashboard[route]!.status, 403, route);
        }
        assert.equal(statSync(extraLog).mode & 0o777, 0o600, 'a logs.file outside home is 0600 too');
      } finally {
        await d?.stop();
        user.remove();
        rmSync(probeDir, { recursive: true, force: true });
        p.cleanup();
      }
    },
  );
});

describe('home', () => {
  const programs = `programs:\n  api: { command: ${prog('--tick', 200)} }\n`;
  // The dashboard's default port may be taken on a shared machine: off unless a test needs it.
  const config = `dashboard: false\n${programs}`;

  test('a home writable by group or others, or inside a folder anyone can write to without the sticky bit, is refused naming the path and the fix', async () => {
    const p = tempProject(config);
    try {
      for (const mode of [0o777, 0o770, 0o722]) {
        mkdirSync(p.home, { recursive: true });
        chmodSync(p.home, mode);
        for (const cmd of ['run', 'start']) {
          const r = await cli([cmd, p.config]);
          assert.equal(r.code, 1, `${cmd} with mode ${mode.toString(8)}: ${r.stdout}${r.stderr}`);
          assert.ok(r.stderr.includes(`home ${p.home} is writable by`), r.stderr);
          assert.ok(r.stderr.includes(`chmod go-w ${p.home}`), r.stderr);
        }
        assert.deepEqual(
          ['bosun.pid', 'token', 'bosun.sock'].filter((f) => existsSync(join(p.home, f))),
          [],
          'nothing was written into it',
        );
        rmSync(p.home, { recursive: true });
      }
      chmodSync(p.dir, 0o777);
      const r = await cli(['run', p.config]);
      assert.equal(r.code, 1);
      assert.ok(
        r.stderr.includes(`home ${p.home} is inside ${p.dir} (mode 0777), which every user can write to without the sticky bit`),
        r.stderr,
      );
      // Sticky, as /tmp is: nobody else can rename the home away, so it is fine.
      chmodSync(p.dir, 0o1777);
      const d = await startDaemon(p.dir, p.home);
      await d.stop();
      assert.equal(statSync(p.home).mode & 0o777, 0o700, 'a new home is 0700');
    } finally {
      p.cleanup();
    }
  });

  test('a home owned by another user is refused', { skip: NOT_ROOT }, async () => {
    const p = tempProject(config);
    const user = throwawayUser();
    try {
      mkdirSync(p.home, { mode: 0o700 });
      chownSync(p.home, user.uid, -1);
      const r = await cli(['run', p.config]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`home ${p.home} belongs to ${user.name} (uid ${user.uid}), not to root (uid 0)`), r.stderr);
      assert.equal(existsSync(join(p.home, 'bosun.pid')), false);
    } finally {
      user.remove();
      p.cleanup();
    }
  });

  test(
    'symlinked bosun.pid and token in a pre-created home are replaced, not followed; a symlinked log, logs/, run/ or daemon.log is refused',
    { timeout: 60_000 },
    async () => {
      const p = tempProject(`dashboard: { port: 0 }\n${programs}`);
      const outside = mkdtempSync(join(tmpdir(), 'bosun-outside-'));
      try {
        const victim = join(outside, 'victim');
        const theirs = join(outside, 'theirs');
        writeFileSync(victim, 'victim\n', { mode: 0o644 });
        writeFileSync(theirs, '', { mode: 0o666 });
        mkdirSync(join(p.home, 'logs'), { recursive: true, mode: 0o700 });
        chmodSync(p.home, 0o700);
        symlinkSync(victim, join(p.home, 'bosun.pid'));
        symlinkSync(theirs, join(p.home, 'token'));
        const d = await startDaemon(p.dir, p.home);
        let token: string;
        try {
          token = /#token=([0-9a-f]+)/.exec(d.lines[await d.line(/#token=/)]!)![1]!;
          assert.equal(readFileSync(victim, 'utf8'), 'victim\n', 'the pid file link was not followed');
          assert.equal(readFileSync(theirs, 'utf8'), '', 'the token did not go into the linked file');
          assert.equal(lstatSync(join(p.home, 'bosun.pid')).isFile(), true);
          assert.equal(readFileSync(join(p.home, 'bosun.pid'), 'utf8').trim(), String(d.pid));
          assert.equal(lstatSync(join(p.home, 'token')).isFile(), true);
          assert.equal(lstatSync(join(p.home, 'token')).mode & 0o777, 0o600);
          assert.equal(readFileSync(join(p.home, 'token'), 'utf8').trim(), token);
        } finally {
          await d.stop();
        }

        const target = join(outside, 'target');
        writeFileSync(target, 'target\n', { mode: 0o666 });
        rmSync(join(p.home, 'logs', 'api-0.log'), { force: true });
        symlinkSync(target, join(p.home, 'logs', 'api-0.log'));
        const r = await cli(['run', p.config]);
        assert.equal(r.code, 1);
        assert.ok(r.stderr.includes(`log file ${join(p.home, 'logs', 'api-0.log')} is a symbolic link`), r.stderr);
        rmSync(join(p.home, 'logs', 'api-0.log'));
        for (const dir of ['logs', 'run']) {
          const real = join(p.home, dir);
          rmSync(real, { recursive: true, force: true });
          symlinkSync(outside, real);
          const l = await cli(['run', p.config]);
          assert.equal(l.code, 1);
          assert.ok(l.stderr.includes(`folder ${real} is a symbolic link`), l.stderr);
          rmSync(real);
        }
        symlinkSync(target, join(p.home, 'daemon.log'));
        const s = await cli(['start', p.config]);
        assert.equal(s.code, 1);
        assert.ok(s.stderr.includes(`${join(p.home, 'daemon.log')} is a symbolic link`), s.stderr);
        assert.equal(readFileSync(target, 'utf8'), 'target\n', 'nothing was appended through a link');
      } finally {
        rmSync(outside, { recursive: true, force: true });
        p.cleanup();
      }
    },
  );

  test(
    'program logs are written 0600 and an existing log is made 0600; a log file of another user is refused',
    { timeout: 60_000 },
    async () => {
      const p = tempProject(config);
      try {
        mkdirSync(join(p.home, 'logs'), { recursive: true, mode: 0o700 });
        chmodSync(p.home, 0o700);
        writeFileSync(join(p.home, 'logs', 'api-0.log'), 'old\n', { mode: 0o644 });
        chmodSync(join(p.home, 'logs', 'api-0.log'), 0o644);
        writeFileSync(join(p.home, 'logs', 'api-0.log.1'), 'older\n', { mode: 0o644 });
        chmodSync(join(p.home, 'logs', 'api-0.log.1'), 0o644);
        const d = await startDaemon(p.dir, p.home);
        try {
          await waitFor('a tick in the log', () => readFileSync(join(p.home, 'logs', 'api-0.log'), 'utf8').includes('tick'));
          assert.equal(statSync(join(p.home, 'logs', 'api-0.log')).mode & 0o777, 0o600);
          assert.equal(statSync(join(p.home, 'logs', 'api-0.log.1')).mode & 0o777, 0o600, 'rotated copies too');
        } finally {
          await d.stop();
        }
        if (isRoot) {
          const user = throwawayUser();
          try {
            chownSync(join(p.home, 'logs', 'api-0.log'), user.uid, -1);
            const r = await cli(['run', p.config]);
            assert.equal(r.code, 1);
            assert.ok(r.stderr.includes(`log file ${join(p.home, 'logs', 'api-0.log')} belongs to ${user.name}`), r.stderr);
          } finally {
            user.remove();
          }
        }
      } finally {
        p.cleanup();
      }
    },
  );

  test('a log file with mode and noFollow (as the fleet opens program logs) is created with that mode and never through a link', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-logfile-'));
    try {
      const fresh = new LogFile({ path: join(dir, 'fresh.log'), mode: PROGRAM_LOG_MODE, noFollow: true });
      fresh.write('line\n');
      await fresh.close();
      assert.equal(statSync(join(dir, 'fresh.log')).mode & 0o777, 0o600);
      writeFileSync(join(dir, 'target'), 'target\n');
      symlinkSync(join(dir, 'target'), join(dir, 'link.log'));
      const errors: Error[] = [];
      const linked = new LogFile({ path: join(dir, 'link.log'), mode: PROGRAM_LOG_MODE, noFollow: true }, (err) => errors.push(err));
      linked.write('secret\n');
      await linked.close();
      assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'target\n');
      assert.equal(((errors[0] as Error | undefined)?.cause as NodeJS.ErrnoException | undefined)?.code, 'ELOOP', String(errors[0]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the token is new on every start and removed at shutdown', { timeout: 60_000 }, async () => {
    const p = tempProject(`dashboard: { port: 0 }\n${programs}`);
    try {
      const tokens: string[] = [];
      for (let i = 0; i < 2; i++) {
        const d = await startDaemon(p.dir, p.home);
        tokens.push(readFileSync(join(p.home, 'token'), 'utf8').trim());
        await d.stop();
        assert.equal(await d.exited, 0);
        assert.equal(existsSync(join(p.home, 'token')), false, 'no token after shutdown');
      }
      assert.notEqual(tokens[0], tokens[1]);
    } finally {
      p.cleanup();
    }
  });
});

describe('failed replies', () => {
  test('carry a stable code beside error and exit, and the dashboard maps codes to HTTP statuses', { timeout: 60_000 }, async () => {
    const p = tempProject(`dashboard: { port: 0 }
programs:
  api: { command: ${prog('--ignore-term')}, killTimeout: 3s }
`);
    const d = await startDaemon(p.dir, p.home);
    try {
      const sock = join(p.home, 'bosun.sock');
      const base = await dashboardBase(d);
      const auth = { authorization: `Bearer ${readFileSync(join(p.home, 'token'), 'utf8').trim()}` };
      const codeOf = (r: unknown) => [(r as Failure).ok, (r as Failure).code, (r as Failure).exit];
      assert.deepEqual(codeOf(await request(sock, { cmd: 'restart', target: 'nope' })), [false, 'ERR_NOT_FOUND', 1]);
      assert.deepEqual(codeOf(await raw(sock, 'not json\n')), [false, 'ERR_BAD_REQUEST', 2]);
      assert.deepEqual(codeOf(await raw(sock, '{"cmd":"stop"}\n')), [false, 'ERR_BAD_REQUEST', 2]);
      assert.deepEqual(codeOf(await raw(sock, '[1]\n')), [false, 'ERR_BAD_REQUEST', 2]);
      assert.deepEqual(codeOf(await raw(sock, '{"cmd":"frobnicate"}\n')), [false, 'ERR_BAD_REQUEST', 2]);
      p.write('programs:\n  api: { restart: sometimes }\n');
      const reload = await request(sock, { cmd: 'reload' });
      assert.deepEqual(codeOf(reload), [false, 'ERR_CONFIG', 2]);
      assert.match((reload as Failure).error, /programs\.api\.restart/);

      const post = (path: string, init: RequestInit = {}) =>
        fetch(`${base}${path}`, { method: 'POST', ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
      const unknown = await post('api/programs/nope/stop');
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as { code: string }).code, 'ERR_NOT_FOUND');
      assert.equal((await post('api/programs/%E0%A4%A/stop')).status, 400, 'a malformed %-escape is a bad request, not a 500');
      assert.equal((await post('api/programs/api/stop', { body: 'x'.repeat(4096) })).status, 413, 'no route takes a body');

      // While shutting down (api ignores SIGTERM, so that takes its killTimeout), commands are refused.
      const shutdown = request(sock, { cmd: 'shutdown' });
      const late = await waitFor('a refusal while shutting down', async () => {
        const r = await request(sock, { cmd: 'start', target: 'api' });
        return r.ok ? undefined : r;
      });
      assert.deepEqual(codeOf(late), [false, 'ERR_SHUTTING_DOWN', 1]);
      const refused = await post('api/programs/api/start');
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { code: string }).code, 'ERR_SHUTTING_DOWN');
      assert.equal((await shutdown).ok, true);
    } finally {
      await d.stop();
      p.cleanup();
    }
  });
});
