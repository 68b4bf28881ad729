// The two restart triggers on their own: FileWatch (real files, TestClock debounce; ignored
// folders are not watched at all, new folders are) and CronRestart (TestClock; long waits in
// steps of at most an hour).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CronRestart } from '../../src/fleet/cron-restart.js';
import { FileWatch, ignoreMatcher } from '../../src/fleet/watch.js';
import { TestClock } from '../../src/testing/test-clock.js';
import { until } from '../support.js';

describe('FileWatch', () => {
  test('watches every folder but the ignored ones, picks up new folders, and reports a burst once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-filewatch-'));
    try {
      for (const d of ['src/lib', 'node_modules/dep/lib', '.git/objects', 'home/logs']) mkdirSync(join(dir, d), { recursive: true });
      const clock = new TestClock();
      const changes: string[] = [];
      const w = new FileWatch({
        paths: [dir],
        ignored: ignoreMatcher([], dir, [join(dir, 'home')]),
        debounceMs: 200,
        clock,
        onChange: (p) => changes.push(p),
      });
      try {
        assert.equal(w.size, 3, 'the root, src and src/lib; not node_modules, .git or the home');
        mkdirSync(join(dir, 'src', 'new'));
        await until(() => w.size === 4, 'the new folder to be watched');
        writeFileSync(join(dir, 'src', 'new', 'a.js'), 'x');
        writeFileSync(join(dir, 'src', 'lib', 'b.js'), 'y');
        await until(() => clock.pendingDelays().includes(200), 'a change');
        await clock.advance(199);
        assert.deepEqual(changes, []);
        await clock.advance(1);
        assert.equal(changes.length, 1);
        assert.match(changes[0]!, /src\/(new\/a|lib\/b)\.js$|src\/new$/);
      } finally {
        w.stop();
      }
      assert.equal(w.size, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CronRestart', () => {
  test('fires at each scheduled time on the clock, once, and waits in steps of at most an hour', async () => {
    const start = Date.parse('2026-03-01T00:00:00');
    const clock = new TestClock(start);
    const fired: number[] = [];
    const c = new CronRestart('0 3 * * *', clock, () => fired.push(clock.now()));
    try {
      assert.equal(c.next(), Date.parse('2026-03-01T03:00:00'));
      assert.ok(Math.max(...clock.pendingDelays()) <= 3_600_000, 'no timer longer than an hour');
      await clock.advance(3 * 3_600_000 - 1);
      assert.deepEqual(fired, []);
      await clock.advance(1);
      assert.deepEqual(fired, [Date.parse('2026-03-01T03:00:00')]);
      await clock.advance(24 * 3_600_000);
      assert.deepEqual(fired, [Date.parse('2026-03-01T03:00:00'), Date.parse('2026-03-02T03:00:00')]);
    } finally {
      c.stop();
    }
    assert.equal(clock.pending(), 0, 'stop() clears its timer');
  });
});
