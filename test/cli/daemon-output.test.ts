// The daemon's own output never stops it: a full disk under daemon.log or stdout, and a closed
// stdout (`bosun run | head -2`), cost lines, not the daemon; writing resumes with a note of
// what was lost once the cause is gone. daemon.log rotates like program logs.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DaemonOutput } from '../../src/cli/daemon-output.js';
import { until } from '../support.js';
import { CLI, cli, prog, processesWith, tempProject, waitFor, type Status } from './helpers.js';

const isRoot = process.getuid?.() === 0;

describe('daemon.log', () => {
  test('rotates past maxSize into .1 .. .keep, losing no line of the kept files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-dlog-'));
    try {
      const path = join(dir, 'daemon.log');
      const out = DaemonOutput.file(path, { maxSize: 4096, keep: 2 });
      const lines = Array.from({ length: 200 }, (_, i) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(80)}`);
      for (const l of lines) out.line(l);
      out.close();
      assert.equal(existsSync(`${path}.3`), false, 'no more than keep rotated files');
      const files = [`${path}.2`, `${path}.1`, path];
      for (const f of files) assert.ok(statSync(f).size <= 4096, `${f} is within maxSize`);
      const kept = files.flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      assert.deepEqual(kept, lines.slice(-kept.length), 'the kept lines are the newest ones, in order, none missing');
      assert.ok(kept.length > 100);
      assert.deepEqual(out.problems(), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('reopen() after the file was moved writes to a new file at the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-dlog-'));
    try {
      const path = join(dir, 'daemon.log');
      const out = DaemonOutput.file(path);
      out.line('before');
      renameSync(path, `${path}.old`);
      out.line('still old');
      out.reopen();
      out.line('after');
      assert.equal(readFileSync(`${path}.old`, 'utf8'), 'before\nstill old\n');
      assert.equal(readFileSync(path, 'utf8'), 'after\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(
    'a full disk costs lines, not the writer; once space is back the next line says how many were lost',
    { skip: isRoot ? false : 'needs root to mount a tmpfs' },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'bosun-dlog-'));
      const mnt = join(dir, 'mnt');
      mkdirSync(mnt);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
      const path = join(mnt, 'daemon.log');
      const out = DaemonOutput.file(path);
      try {
        out.line('first');
        fill(join(mnt, 'filler'));
        // The file's last page may still hold some bytes: write until lines are lost.
        for (let i = 0; i < 200 && out.problems().length === 0; i++) out.line(`lost ${i} ${'y'.repeat(100)}`);
        const [problem] = out.problems();
        assert.equal(problem?.target, path);
        assert.match(problem!.error, /ENOSPC/);
        out.line('also lost');
        assert.equal(out.problems()[0]!.lost, 2);
        rmSync(join(mnt, 'filler'));
        out.line('back');
        assert.deepEqual(out.problems(), []);
        const text = readFileSync(path, 'utf8');
        assert.match(text, /^first\n/);
        assert.match(
          text,
          /\nbosun: .*daemon\.log: ENOSPC: no space left on device, write; 2 lines could not be written; writing again\nback\n$/,
        );
      } finally {
        out.close();
        execFileSync('umount', [mnt]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

/** Fills the file system holding `file` (a tmpfs in these tests) to the last block. */
function fill(file: string): void {
  try {
    writeFileSync(file, Buffer.alloc(64 << 20));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
}

describe("bosun run's stdout", () => {
  test('on a full device (/dev/full): the daemon keeps running and its programs too', async () => {
    const m = `bosun-full-${process.pid}`;
    const p = tempProject(
      `dashboard: false\nprograms:\n  api: { command: ${prog('--tick', 100)}, env: { BOSUN_TEST_VALUE: ${m} }, logs: { file: api.log } }\n`,
    );
    const full = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, [CLI, 'run'], { cwd: p.dir, stdio: ['ignore', full, 'pipe'] });
    closeSync(full);
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const s = await waitFor(`the daemon to answer (${stderr})`, async () => {
        const r = await cli(['status', '--json', '--home', p.home]);
        return r.code === 0 && (JSON.parse(r.stdout) as Status).programs[0]!.pid !== null ? (JSON.parse(r.stdout) as Status) : undefined;
      });
      // Lifecycle lines that all fail to be written.
      for (let i = 0; i < 3; i++) assert.equal((await cli(['restart', 'api', '--home', p.home])).code, 0);
      const after = JSON.parse((await cli(['status', '--json', '--home', p.home])).stdout) as Status;
      assert.equal(after.programs[0]!.state, 'running');
      assert.notEqual(after.programs[0]!.pid, s.programs[0]!.pid);
      assert.equal((await cli(['shutdown', '--home', p.home])).code, 0);
      assert.equal(await exited, 0, stderr);
      await until(() => processesWith(m).length === 0, 'no program left', 5000);
    } finally {
      child.kill('SIGKILL');
      p.cleanup();
    }
  });

  test('closed by its reader (bosun run | head -2): the daemon keeps running and exits 0 at shutdown', async () => {
    const m = `bosun-epipe-${process.pid}`;
    const p = tempProject(`dashboard: false\nprograms:\n  api: { command: ${prog()}, env: { BOSUN_TEST_VALUE: ${m} } }\n`);
    const child = spawn(process.execPath, [CLI, 'run'], { cwd: p.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      // Read the first line, then close the pipe as `head` does.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      for (let i = 0; i < 3; i++) {
        const r = await cli(['restart', 'api', '--home', p.home]);
        assert.equal(r.code, 0, `restart ${i}: ${r.stderr} / daemon: ${stderr}`);
      }
      assert.equal((await cli(['status', '--home', p.home])).code, 0);
      assert.equal((await cli(['shutdown', '--home', p.home])).code, 0);
      assert.equal(await exited, 0, stderr);
      assert.doesNotMatch(stderr, /EPIPE|Error/);
    } finally {
      child.kill('SIGKILL');
      p.cleanup();
    }
  });
});

describe('the detached daemon with its home on a full disk', () => {
  test(
    'keeps supervising; daemon.log takes lines again, with a note of the lost ones, once space is back',
    { skip: isRoot ? false : 'needs root to mount a tmpfs' },
    async () => {
      const m = `bosun-enospc-${process.pid}`;
      const p = tempProject('');
      const home = join(p.dir, 'home');
      mkdirSync(home);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', home]);
      const log = join(home, 'daemon.log');
      const filler = join(home, 'filler');
      try {
        // Program logs live elsewhere: this is about the daemon's own output.
        p.write(
          `home: ./home\ndashboard: false\nprograms:\n  api: { command: [sleep, "1000"], env: { BOSUN_TEST_VALUE: ${m} }, instances: 20, logs: { file: api.log } }\n`,
        );
        const started = await cli(['start'], { cwd: p.dir });
        assert.equal(started.code, 0, started.stderr);
        fill(filler);
        let size = statSync(log).size;
        // Restart until daemon.log stops growing: its writes fail from then on.
        for (let i = 0; ; i++) {
          assert.ok(i < 10, 'daemon.log kept growing on a full disk');
          const r = await cli(['restart', 'all', '--home', home]);
          assert.equal(r.code, 0, r.stderr);
          const now = statSync(log).size;
          if (now === size) break;
          size = now;
        }
        const s = JSON.parse((await cli(['status', '--json', '--home', home])).stdout) as Status & {
          daemonOutput?: { target: string; error: string; lost: number }[];
        };
        assert.equal(s.programs.length, 20);
        for (const x of s.programs)
          assert.ok(x.state === 'running' && x.pid !== null && existsSync(`/proc/${x.pid}`), `${x.name}[${x.instance}] runs`);
        // status says the daemon's own log is failing, and how much it lost.
        assert.equal(s.daemonOutput?.length, 1, JSON.stringify(s.daemonOutput));
        assert.equal(s.daemonOutput[0]!.target, log);
        assert.match(s.daemonOutput[0]!.error, /ENOSPC/);
        assert.ok(s.daemonOutput[0]!.lost > 0);
        assert.match(
          (await cli(['status', '--home', home])).stdout,
          /daemon output to .*daemon\.log failing: ENOSPC.*; \d+ lines? lost so far/,
        );
        rmSync(filler);
        assert.equal((await cli(['restart', 'api', '--home', home])).code, 0);
        const healed = JSON.parse((await cli(['status', '--json', '--home', home])).stdout) as { daemonOutput?: unknown };
        assert.equal(healed.daemonOutput, undefined, 'no problem once writing works again');
        const text = readFileSync(log, 'utf8');
        assert.match(
          text,
          /bosun: .*daemon\.log: ENOSPC: no space left on device, write; \d+ lines? could not be written; writing again\n/,
        );
        assert.match(text.slice(text.lastIndexOf('writing again')), / api\[19\] started pid=\d+/);
      } finally {
        await cli(['shutdown', '--home', home]);
        await until(() => processesWith(m).length === 0, 'the fleet gone', 10_000).catch(() => undefined);
        execFileSync('umount', [home]);
        p.cleanup();
      }
    },
  );
});
