// An instance's journal: output across runs with a marker at each lifecycle event, recent
// events with the reason a run ended, read by sequence number, and bounded. First on its own,
// then fed by a Fleet of fake children on a TestClock: a crash's last lines are still there
// after the restart, followed by the exit that ended them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { validateConfig } from '../../src/fleet/config.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { InstanceJournal, JOURNAL_CHARS, JOURNAL_EVENTS, JOURNAL_LINE_CHARS, JOURNAL_LINES } from '../../src/fleet/journal.js';
import { TestClock } from '../../src/testing/test-clock.js';
import { FakeSpawner } from './fake-spawn.js';

const ev = (event: 'started' | 'exited' | 'restarting' | 'stopped', details = '', at = 0) => ({
  at,
  program: 'web',
  instance: 0,
  event,
  details,
});

describe('InstanceJournal', () => {
  test('numbers lines and markers in one sequence and gives what came after a seq', () => {
    const j = new InstanceJournal();
    j.event(ev('started', 'pid=1'));
    j.lines('stdout', 'hello\n');
    j.lines('stderr', 'oops\n');
    j.event(ev('exited', 'code=1 signal=null', 3), 'exit', 'web[0] exited with code 1');
    assert.deepEqual(
      j.linesSince().map((l) => [l.seq, l.stream, l.text]),
      [
        [0, 'event', 'started pid=1'],
        [1, 'stdout', 'hello'],
        [2, 'stderr', 'oops'],
        [3, 'event', 'exited code=1 signal=null (exit: web[0] exited with code 1)'],
      ],
    );
    assert.deepEqual(
      j.linesSince(1).map((l) => l.seq),
      [2, 3],
    );
    assert.deepEqual(j.linesSince(3), []);
    assert.equal(j.lastLineSeq, 3);
    assert.equal(j.linesSince().at(-1)!.event, 'exited');
  });

  test('keeps the reason and detail only on the events that end a run', () => {
    const j = new InstanceJournal();
    j.event(ev('exited', 'code=1 signal=null'), 'exit', 'crashed');
    j.event(ev('restarting', 'in=100ms'), 'exit', 'crashed');
    j.event(ev('started', 'pid=2'), 'exit', 'crashed');
    j.event(ev('stopped'), 'command', 'stopped by command');
    assert.deepEqual(
      j.eventsSince().map((e) => [e.seq, e.event, e.reason, e.detail]),
      [
        [0, 'exited', 'exit', 'crashed'],
        [1, 'restarting', undefined, undefined],
        [2, 'started', undefined, undefined],
        [3, 'stopped', 'command', 'stopped by command'],
      ],
    );
    assert.deepEqual(
      j.eventsSince(2).map((e) => e.seq),
      [3],
    );
  });

  test('holds at most JOURNAL_LINES lines, JOURNAL_CHARS characters and JOURNAL_EVENTS events; sequence numbers go on', () => {
    const j = new InstanceJournal();
    for (let i = 0; i < JOURNAL_LINES + 50; i++) j.lines('stdout', `line ${i}\n`);
    const lines = j.linesSince();
    assert.equal(lines.length, JOURNAL_LINES);
    assert.equal(lines[0]!.text, 'line 50');
    assert.equal(lines[0]!.seq, 50);
    assert.deepEqual(
      j.linesSince(JOURNAL_LINES + 47).map((l) => l.text),
      [`line ${JOURNAL_LINES + 48}`, `line ${JOURNAL_LINES + 49}`],
    );
    // Asked from before the oldest kept: everything kept.
    assert.equal(j.linesSince(3).length, JOURNAL_LINES);

    const wide = new InstanceJournal();
    const long = 'x'.repeat(4000);
    for (let i = 0; i < 100; i++) wide.lines('stdout', `${long}\n`);
    const kept = wide.linesSince();
    assert.ok(kept.reduce((n, l) => n + l.text.length, 0) <= JOURNAL_CHARS);
    assert.equal(kept.length, Math.floor(JOURNAL_CHARS / 4000));
    assert.equal(kept.at(-1)!.seq, 99);

    const one = new InstanceJournal();
    one.lines('stdout', `${'y'.repeat(JOURNAL_LINE_CHARS + 10)}\n`);
    assert.match(one.linesSince()[0]!.text, /^y{8192} … \(10 more characters in the log file\)$/);

    for (let i = 0; i < JOURNAL_EVENTS + 5; i++) one.event(ev('started', `pid=${i}`));
    assert.equal(one.eventsSince().length, JOURNAL_EVENTS);
    assert.equal(one.eventsSince()[0]!.details, 'pid=5');
  });

  test('takes output a chunk at a time: lines numbered one by one, a chunk over the bounds keeps its last lines', () => {
    const j = new InstanceJournal();
    j.lines('stdout', 'a\r\nb\n');
    j.event(ev('exited', 'code=1 signal=null', 5), 'exit', 'two\nlines');
    const many = Array.from({ length: JOURNAL_LINES + 100 }, (_, i) => `n ${i}\n`).join('');
    j.lines('stderr', many);
    const all = j.linesSince();
    assert.equal(all.length, JOURNAL_LINES, 'at most JOURNAL_LINES, from within one chunk too');
    assert.deepEqual([all[0]!.seq, all[0]!.text, all[0]!.stream], [103, 'n 100', 'stderr']);
    assert.equal(all.at(-1)!.seq, JOURNAL_LINES + 102);
    assert.deepEqual(
      j.linesSince(JOURNAL_LINES + 100).map((l) => l.text),
      [`n ${JOURNAL_LINES + 98}`, `n ${JOURNAL_LINES + 99}`],
    );

    const k = new InstanceJournal();
    k.lines('stdout', 'a\r\nb\n');
    k.event(ev('exited', 'code=1 signal=null', 5), 'exit', 'two\nlines');
    assert.deepEqual(
      k.linesSince().map((l) => [l.seq, l.text, l.at]),
      [
        [0, 'a', undefined],
        [1, 'b', undefined],
        [2, 'exited code=1 signal=null (exit: two lines)', 5],
      ],
      'CR dropped, a marker is one line',
    );
    const huge = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(8000)}\n`).join('');
    k.lines('stdout', huge);
    const kept = k.linesSince();
    assert.ok(kept.reduce((n, l) => n + l.text.length, 0) <= JOURNAL_CHARS, 'a chunk over JOURNAL_CHARS keeps what fits');
    assert.equal(kept.at(-1)!.text.slice(0, 2), '39');
    assert.equal(kept.at(-1)!.seq, 3 + 39, 'numbered as if every line had been kept');
    const fromHuge = kept.filter((l) => l.seq >= 3);
    assert.ok(fromHuge.length < 40 && fromHuge.length > 10, `only the last lines of it: ${fromHuge.length}`);
    assert.deepEqual(
      fromHuge.map((l) => l.seq),
      fromHuge.map((_, i) => 3 + 40 - fromHuge.length + i),
    );
    assert.deepEqual(
      kept.slice(0, 3).map((l) => l.seq),
      [0, 1, 2],
      'what came before still fits',
    );
  });
});

describe('a fleet keeps each instance journal across runs (TestClock, fake children)', () => {
  test("a crash's last lines stay after the restart, followed by the exit with its reason; a command stop says command", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-journal-'));
    const clock = new TestClock();
    const spawner = new FakeSpawner();
    const config = validateConfig(
      { programs: { web: { command: ['node', 'web.js'], instances: 2 } }, supervisor: { backoff: { initial: '100ms' } } },
      join(dir, 'bosun.config.yaml'),
      { checkFiles: false },
    );
    const fleet = new Fleet({ config, clock, spawn: spawner.spawn, random: () => 0.5 });
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 5000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await clock.advance(0);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const journal = () => fleet.details()['web[0]']!.journal;
    const texts = () =>
      journal()
        .linesSince()
        .map((l) => `${l.stream === 'event' ? '# ' : ''}${l.text}`);
    try {
      await until(() => spawner.live('web').length === 2, 'two instances');
      const first = spawner.one('web', 0);
      first.print('booting');
      first.stderr.write('Error: boom\n    at crash (web.js:1)\n');
      await until(() => texts().includes('    at crash (web.js:1)'), 'the stack trace in the journal');
      first.exit(1);
      await until(() => spawner.live('web', 0).length === 0 && texts().some((t) => t.startsWith('# restarting')), 'the restart decision');
      await clock.advance(200);
      await until(() => spawner.live('web', 0).length === 1, 'the new run');
      spawner.one('web', 0).print('second run');
      await until(() => texts().includes('second run'), 'the new run printing');

      const t = texts();
      const crash = t.indexOf('    at crash (web.js:1)');
      assert.deepEqual(t.slice(crash - 2, crash + 1), ['booting', 'Error: boom', '    at crash (web.js:1)']);
      assert.match(t[crash + 1]!, /^# exited code=1 signal=null \(exit: web\[0\] exited with code 1\)$/);
      assert.match(t[crash + 2]!, /^# restarting in=\d+ms$/);
      assert.match(t[crash + 3]!, /^# started pid=\d+$/);
      assert.equal(t.at(-1), 'second run');
      assert.deepEqual(
        fleet
          .details()
          ['web[1]']!.journal.linesSince()
          .map((l) => l.event ?? l.text),
        ['started'],
        'the sibling has its own journal',
      );

      await fleet.stop('web:0');
      const ends = journal()
        .eventsSince()
        .filter((e) => e.event === 'exited' || e.event === 'stopped');
      assert.deepEqual(
        ends.map((e) => [e.event, e.reason]),
        [
          ['exited', 'exit'],
          ['exited', 'command'],
          ['stopped', 'command'],
        ],
      );
    } finally {
      fleet.kill();
      await fleet.wait().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a reload that changes a program keeps its instances journals', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-journal-'));
    const clock = new TestClock();
    const spawner = new FakeSpawner();
    const file = join(dir, 'bosun.config.yaml');
    const fleet = new Fleet({
      config: validateConfig({ programs: { web: { command: ['node', 'a.js'] } } }, file, { checkFiles: false }),
      clock,
      spawn: spawner.spawn,
    });
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 5000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await clock.advance(0);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    try {
      await until(() => spawner.live('web').length === 1, 'web');
      spawner.one('web').print('from a.js');
      await until(
        () =>
          fleet
            .details()
            ['web[0]']!.journal.linesSince()
            .some((l) => l.text === 'from a.js'),
        'the line',
      );
      const reloaded = fleet.reload(validateConfig({ programs: { web: { command: ['node', 'b.js'] } } }, file, { checkFiles: false }));
      await until(() => spawner.live('web').some((c) => c.args.includes('b.js')), 'web on b.js');
      assert.deepEqual((await reloaded).changed, ['web']);
      const lines = fleet
        .details()
        ['web[0]']!.journal.linesSince()
        .map((l) => l.event ?? l.text);
      assert.deepEqual(lines.slice(0, 2), ['started', 'from a.js']);
      assert.ok(lines.lastIndexOf('started') > 1, `the new run is marked after the old one's output: ${lines.join(', ')}`);
    } finally {
      fleet.kill();
      await fleet.wait().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
