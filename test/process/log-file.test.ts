// Log files that never stop their program: a write error is reported, output is dropped and
// counted, and writing resumes (with a line saying what was lost) once the cause goes; a log
// deleted or rotated away is reopened on request or by itself, freeing the old file's space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TestClock } from '../../src/testing/index.js';
import { LogFile, LogWriteError, monitorProcess, type MonitoredProcess } from '../../src/process/index.js';
import { node, procFixture, until, withTempDir } from './helpers.js';

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('logfile', fn);

const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
const tickNumbers = (text: string) => [...text.matchAll(/^tick (\d+)/gm)].map((m) => Number(m[1]));
const lastTick = (m: MonitoredProcess) => Math.max(-1, ...tickNumbers(m.tail().join('\n')));

/** Files this process holds open that were deleted (their space is not freed while open). */
function openDeleted(prefix: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(prefix) && target.endsWith(' (deleted)')) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

test('a write error is reported once, output is counted as dropped, and writing resumes with a line saying so', async () => {
  await withDir(async (dir) => {
    const clock = new TestClock();
    const errors: LogWriteError[] = [];
    const recovered: number[] = [];
    const path = join(dir, 'missing', 'app.log');
    const log = new LogFile({ path, clock, retryMs: 1000, onError: (e) => errors.push(e), onRecover: (n) => recovered.push(n) });
    log.write('first\n');
    log.write(Buffer.from('second\n'));
    assert.equal(errors.length, 1, 'reported once, not once a write');
    assert.ok(errors[0] instanceof LogWriteError && errors[0].code === 'ERR_LOG_WRITE');
    assert.equal((errors[0].cause as NodeJS.ErrnoException).code, 'ENOENT');
    assert.equal(log.error, errors[0]);
    assert.equal(log.droppedBytes, 13);
    await clock.advance(1000); // the directory is still missing: still failing, still counting
    assert.equal(recovered.length, 0);
    log.write('third\n');
    assert.equal(log.droppedBytes, 19);
    await mkdir(join(dir, 'missing'));
    await clock.advance(1000);
    assert.deepEqual(recovered, [19]);
    assert.equal(log.error, undefined);
    log.write('fourth\n');
    await log.close();
    assert.equal(read(path), '[bosun] 19 bytes of output were dropped: ' + (errors[0]!.cause as Error).message + '\nfourth\n');
  });
});

test('on a full disk the program keeps running, the error is reported, and the log resumes once space is freed', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('mounting a 1 MiB tmpfs needs root');
    return;
  }
  await withDir(async (dir) => {
    const mnt = join(dir, 'small');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    const clock = new TestClock();
    const logFile = join(mnt, 'app.log');
    const filler = join(mnt, 'filler');
    const errors: LogWriteError[] = [];
    const recovered: number[] = [];
    // 500-byte lines every 10 ms: the last page of the log fills within a few ticks.
    const m = monitorProcess({
      command: node,
      args: [procFixture, 'tick', '10', '500'],
      logFile,
      clock,
      onLogError: (e) => errors.push(e),
      onLogRecovered: (n) => recovered.push(n),
    });
    try {
      await until(() => tickNumbers(read(logFile)).length >= 3, 'ticks in the log');
      try {
        for (;;) appendFileSync(filler, Buffer.alloc(64 * 1024));
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      await until(() => errors.length === 1, 'the ENOSPC reported');
      assert.equal((m.logError()?.cause as NodeJS.ErrnoException).code, 'ENOSPC');
      const atError = lastTick(m);
      await until(() => lastTick(m) >= atError + 10, 'ten more ticks while the disk is full');
      assert.equal(m.exitInfo, undefined, 'the program still runs');
      assert.ok(m.logError() !== undefined);

      rmSync(filler);
      await clock.advance(1000); // the retry
      assert.equal(recovered.length, 1);
      assert.equal(m.logError(), undefined);
      const marker = new RegExp(`^\\[bosun\\] ${recovered[0]} bytes of output were dropped: ENOSPC`, 'm');
      await until(() => marker.test(read(logFile)) && read(logFile).split(marker)[1]!.includes('tick '), 'ticks after the marker');
      assert.ok(recovered[0]! > 10 * 500, `${recovered[0]} bytes dropped, fewer than the ten ticks printed meanwhile`);
      const [before, after] = read(logFile).split(marker) as [string, string];
      const resumed = tickNumbers(after);
      assert.ok(resumed[0]! > Math.max(...tickNumbers(before)) + 10, 'the dropped ticks are not in the log');
      resumed.forEach((n, i) => assert.equal(n, resumed[0]! + i, 'a tick is missing after the recovery'));
    } finally {
      m.kill();
      await m.wait();
      execFileSync('umount', [mnt]);
    }
  });
});

test('reopenLog() after the log was deleted writes a new file and frees the old one', async () => {
  await withDir(async (dir) => {
    const logFile = join(dir, 'app.log');
    const m = monitorProcess({ command: node, args: [procFixture, 'tick', '20'], logFile });
    try {
      await until(() => tickNumbers(read(logFile)).length >= 2, 'ticks in the log');
      await unlink(logFile);
      m.reopenLog();
      assert.deepEqual(openDeleted(logFile), [], 'the deleted log is still held open');
      await until(() => tickNumbers(read(logFile)).length >= 2, 'ticks in the new log');
    } finally {
      m.kill();
      await m.wait();
    }
  });
});

test('a log deleted or moved away is reopened by itself at the next check, and not before', async () => {
  await withDir(async (dir) => {
    const clock = new TestClock();
    const logFile = join(dir, 'app.log');
    const m = monitorProcess({ command: node, args: [procFixture, 'tick', '20'], logFile, clock });
    try {
      await until(() => tickNumbers(read(logFile)).length >= 2, 'ticks in the log');
      await unlink(logFile);
      const seen = lastTick(m);
      await until(() => lastTick(m) >= seen + 3, 'three ticks');
      assert.equal(existsSync(logFile), false, 'reopened before the check was due');
      assert.equal(openDeleted(logFile).length, 1);
      await clock.advance(1000);
      await until(() => existsSync(logFile), 'the log reopened at the next write after the check');
      assert.deepEqual(openDeleted(logFile), []);

      // logrotate without copytruncate: the file is renamed; the next check follows the path.
      await rename(logFile, `${logFile}.1`);
      await clock.advance(1000);
      await until(() => tickNumbers(read(logFile)).length >= 2, 'ticks in the new file');
      const rotated = tickNumbers(read(`${logFile}.1`));
      const current = tickNumbers(read(logFile));
      assert.ok(rotated.at(-1)! < current[0]!, 'the renamed file got lines after the new one was opened');
    } finally {
      m.kill();
      await m.wait();
    }
  });
});
