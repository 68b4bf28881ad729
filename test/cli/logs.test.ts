// `bosun logs`: bytes as written, a line without a newline shown after a moment, and `-f`
// that loses no line across rotations, holds one abort listener however long it runs, and
// picks up the programs a reload adds.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { appendFileSync, mkdirSync, readdirSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { printLogs } from '../../src/cli/logs.js';
import { until } from '../support.js';
import { CLI, cli, prog, startDaemon, tempProject, type Daemon } from './helpers.js';

const LINES = fileURLToPath(new URL('./fixtures/lines.js', import.meta.url));

/** `bosun ...args`, its stdout kept as bytes. */
function follower(
  args: string[],
  cwd?: string,
): { child: ChildProcess; out: () => Buffer; stderr: () => string; closed: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => chunks.push(b));
  child.stderr!.on('data', (b: Buffer) => (stderr += b));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, out: () => Buffer.concat(chunks), stderr: () => stderr, closed };
}

/** Waits until `pid` holds `path` open: the follower is reading it. */
async function holdsOpen(pid: number, path: string): Promise<void> {
  await until(
    () => {
      try {
        return readdirSync(`/proc/${pid}/fd`).some((fd) => {
          try {
            return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
          } catch {
            return false;
          }
        });
      } catch {
        return false;
      }
    },
    `pid ${pid} to open ${path}`,
    10_000,
  );
}

/** The numbers n of `<time> <instance> out | line n` lines in `text`, in the order printed. */
function numbers(text: string, instance: string): number[] {
  const line = new RegExp(`^\\S+Z ${instance.replace(/[[\]]/g, '\\$&')} out \\| line (\\d+) `);
  return text.split('\n').flatMap((l) => {
    const m = line.exec(l);
    return m === null ? [] : [Number(m[1])];
  });
}

describe('bosun logs', () => {
  test('passes bytes through as written: output that is not UTF-8 is not rewritten', async () => {
    const p = tempProject('');
    try {
      mkdirSync(join(p.home, 'logs'), { recursive: true });
      const bytes = Buffer.alloc(1 << 16);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 3) * 31) & 0xff;
      bytes[bytes.length - 1] = 10;
      writeFileSync(join(p.home, 'logs', 'raw-0.log'), bytes);
      const f = follower(['logs', '-n', '100000', '--home', p.home]);
      assert.equal(await f.closed, 0, f.stderr());
      const expected: Buffer[] = [];
      let start = 0;
      for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
        // A file without an index: no time, no stream.
        expected.push(Buffer.from('- raw[0] - | '), bytes.subarray(start, nl), Buffer.of(10));
        start = nl + 1;
      }
      assert.ok(f.out().equals(Buffer.concat(expected)), 'the same bytes, each line prefixed');
      const raw = follower(['logs', '-n', '100000', '--raw', '--home', p.home]);
      assert.equal(await raw.closed, 0, raw.stderr());
      assert.ok(raw.out().equals(bytes), '--raw: the bytes exactly as in the file');
    } finally {
      p.cleanup();
    }
  });

  test('-f shows a line without a newline (a prompt) after a moment, and what follows it', async () => {
    const p = tempProject('');
    const log = join(p.home, 'logs', 'ask-0.log');
    try {
      mkdirSync(join(p.home, 'logs'), { recursive: true });
      writeFileSync(log, 'hello\n');
      const f = follower(['logs', '-f', '--home', p.home]);
      try {
        await until(() => f.out().toString() === '- ask[0] - | hello\n', 'the first line', 10_000);
        appendFileSync(log, 'name? ');
        await until(() => f.out().toString().includes('- ask[0] - | name? \n'), 'the prompt to be shown', 10_000);
        assert.equal(f.out().toString(), '- ask[0] - | hello\n- ask[0] - | name? \n');
        appendFileSync(log, 'bosun\nnext\n');
        await until(() => f.out().toString().includes('- ask[0] - | next\n'), 'the lines after it', 10_000);
        assert.equal(f.out().toString(), '- ask[0] - | hello\n- ask[0] - | name? \n- ask[0] - | bosun\n- ask[0] - | next\n');
      } finally {
        f.child.kill('SIGINT');
      }
      assert.equal(await f.closed, 0);
    } finally {
      p.cleanup();
    }
  });

  test('-f loses no line when the log rotates, and holds one abort listener however long it runs', async () => {
    const dir = tempProject('');
    const path = join(dir.dir, 'app.log');
    writeFileSync(path, '');
    const seen: string[] = [];
    const abort = new AbortController();
    const following = printLogs([{ name: 'app', instance: 0, path }], {
      lines: 0,
      follow: true,
      signal: abort.signal,
      pollMs: 5,
      write: (chunk) =>
        void seen.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        ),
    });
    try {
      let n = 0;
      const write = (count: number, file = path) => {
        for (let i = 0; i < count; i++) appendFileSync(file, `line ${n++}\n`);
      };
      for (let rotation = 1; rotation <= 30; rotation++) {
        write(50);
        // Rotated as bosun and logrotate do it: path.k -> path.k+1, path -> path.1; the writer
        // may still append to the old file until it reopens, then writes a new file at the path.
        for (let k = rotation - 1; k >= 1; k--) renameSync(`${path}.${k}`, `${path}.${k + 1}`);
        renameSync(path, `${path}.1`);
        write(5, `${path}.1`);
        // Every third rotation the follower gets to look; in between, files come and go unseen.
        if (rotation % 3 === 0) await until(() => seen.length >= n, 'the follower to catch up', 10_000, 1);
        writeFileSync(path, '');
      }
      write(50);
      await until(() => seen.length >= n, 'the last lines', 10_000, 1);
      // Each poll sleeps on the signal; a leak would add a listener per poll.
      assert.ok(
        getEventListeners(abort.signal, 'abort').length <= 1,
        `abort listeners: ${getEventListeners(abort.signal, 'abort').length}`,
      );
      assert.deepEqual(
        seen,
        Array.from({ length: n }, (_, i) => `- app[0] - | line ${i}`),
      );
    } finally {
      abort.abort();
      await following;
      dir.cleanup();
    }
  });
});

describe('bosun logs -f on a running daemon', () => {
  test('loses no line across rotations of a program writing 40 KB/s, without listener warnings', async () => {
    const count = 4000;
    const p = tempProject(
      `dashboard: false\nprograms:\n  api: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(LINES)}, "${count}", "20", "25"], restart: never, logs: { maxSize: 32KB, keep: 3 } }\n`,
    );
    let d: Daemon | undefined;
    try {
      d = await startDaemon(p.dir, p.home);
      assert.equal((await cli(['stop', 'api', '--home', p.home])).code, 0);
      const f = follower(['logs', 'api', '-f', '-n', '0', '--home', p.home]);
      try {
        await holdsOpen(f.child.pid!, join(p.home, 'logs', 'api-0.log'));
        assert.equal((await cli(['start', 'api', '--home', p.home])).code, 0);
        await until(() => / api\[0\] out \| done\n/.test(f.out().toString()), 'every line', 60_000, 50);
      } finally {
        f.child.kill('SIGINT');
      }
      assert.equal(await f.closed, 0);
      const got = numbers(f.out().toString(), 'api[0]');
      const rotated = readdirSync(join(p.home, 'logs')).filter((n) => /^api-0\.log\.\d$/.test(n));
      assert.ok(rotated.length > 0, 'the log rotated');
      assert.deepEqual(
        got,
        Array.from({ length: count }, (_, i) => i),
        `lost ${count - new Set(got).size} of ${count} lines`,
      );
      assert.doesNotMatch(f.stderr(), /MaxListenersExceededWarning|Warning/);
    } finally {
      await d?.stop();
      p.cleanup();
    }
  });

  test('picks up a program that reload adds', async () => {
    const p = tempProject(`dashboard: false\nprograms:\n  api: { command: ${prog()} }\n`);
    let d: Daemon | undefined;
    try {
      d = await startDaemon(p.dir, p.home);
      const f = follower(['logs', '-f', '-n', '0'], p.dir);
      try {
        await holdsOpen(f.child.pid!, join(p.home, 'logs', 'api-0.log'));
        p.write(`dashboard: false\nprograms:\n  api: { command: ${prog()} }\n  added: { command: ${prog('--say', 'hello-from-added')} }\n`);
        const r = await cli(['reload'], { cwd: p.dir });
        assert.equal(r.code, 0, r.stderr);
        await until(
          () => /^\S+Z added\[0\] out \| pid=\d+ env= hello-from-added$/m.test(f.out().toString()),
          'the added program in the follower',
          15_000,
          20,
        );
      } finally {
        f.child.kill('SIGINT');
      }
      assert.equal(await f.closed, 0);
    } finally {
      await d?.stop();
      p.cleanup();
    }
  });
});
