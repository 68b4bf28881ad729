// supervisor.strategy with real processes: under one_for_all a crash the policy restarts also
// restarts every other running program (stopped in reverse start order, started in start order,
// after the crashed one's backoff); under rest_for_one only the crashed program and those
// started after it. Programs stopped by command stay stopped. (one_for_one: daemon.test.ts.)

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cli, jitteredAround, prog, restarting, withDaemon, type Daemon, type Status } from './helpers.js';

const at = (line: string) => Date.parse(line.split(' ')[0]!);
const config = (strategy: string, extra = '') => `dashboard: false
supervisor: { strategy: ${strategy}, backoff: { initial: 300ms } }
programs:
  a: { command: ${prog('--ready-after', 150)}, ready: { log: "ready now" } }
  b: { command: ${prog()}, after: [a] }
  c: { command: ${prog()} }
${extra}`;
const pids = (s: Status) => Object.fromEntries(s.programs.map((x) => [x.name, x.pid]));
const byName = (s: Status, name: string) => s.programs.find((x) => x.name === name)!;

/** Index of the first line from `from` on that matches. */
const find = (d: Daemon, from: number, pattern: RegExp) => d.lines.findIndex((l, i) => i >= from && pattern.test(l));

describe('supervisor strategy', { concurrency: 2 }, () => {
  test('one_for_all: a crash restarts every running program, stopping in reverse and starting in start order; stopped ones stay stopped', async () => {
    await withDaemon(config('one_for_all', `  d: { command: ${prog()} }\n`), async (d) => {
      const before = await d.until('all up', (s) => s.programs.every((x) => x.pid !== null) && byName(s, 'a').state === 'ready');
      assert.equal((await cli(['stop', 'd', '--home', d.home])).code, 0);
      const from = d.lines.length;
      process.kill(before.programs[1]!.pid!, 'SIGKILL');
      const old = pids(before);
      const after = await d.until(
        'a, b and c to have new pids',
        (s) => ['a', 'b', 'c'].every((n) => byName(s, n).pid !== null && byName(s, n).pid !== old[n]) && byName(s, 'a').state === 'ready',
      );
      const log = d.lines.join('\n');
      const bExited = find(d, from, / b\[0\] exited code=null signal=SIGKILL$/);
      const cExited = find(d, from, / c\[0\] exited /);
      const aExited = find(d, from, / a\[0\] exited /);
      assert.ok(bExited >= 0 && bExited < cExited && cExited < aExited, `stops in reverse start order:\n${log}`);
      assert.ok(find(d, from, / c\[0\] stopped$/) < aExited, `c is reaped before a is stopped:\n${log}`);
      const aStarted = await d.line(/ a\[0\] started pid=/, 5000, from);
      const aReady = await d.line(/ a\[0\] ready$/, 5000, from);
      const bStarted = await d.line(/ b\[0\] started pid=/, 5000, from);
      const cStarted = await d.line(/ c\[0\] started pid=/, 5000, from);
      assert.ok(aStarted < aReady && aReady < bStarted && bStarted < cStarted, `starts in start order, b once a is ready:\n${log}`);
      const bRestarting = find(d, from, restarting('b'));
      assert.ok(bRestarting >= 0 && jitteredAround(d.lines[bRestarting]!, 300), log);
      const delay = Number(/in=(\d+)ms/.exec(d.lines[bRestarting]!)![1]);
      assert.ok(at(d.lines[aStarted]!) - at(d.lines[bExited]!) >= delay - 10, `the group restarts after b's backoff:\n${log}`);
      assert.equal(find(d, from, / [acd]\[0\] restarting/), -1, `only the crashed instance prints restarting:\n${log}`);
      assert.deepEqual(
        after.programs.map((x) => [x.name, x.restarts]),
        [
          ['a', 0],
          ['b', 1],
          ['c', 0],
          ['d', 0],
        ],
        'only the crash counts as a restart',
      );
      assert.equal(byName(after, 'd').state, 'stopped');
      assert.equal(byName(after, 'd').pid, null);
      assert.equal(find(d, from, / d\[0\] /), -1, `d, stopped by command, is left alone:\n${log}`);
    });
  });

  test('rest_for_one: a crash restarts the crashed program and those started after it; earlier ones keep their pids', async () => {
    await withDaemon(config('rest_for_one'), async (d) => {
      const before = await d.until('all up', (s) => s.programs.every((x) => x.pid !== null) && byName(s, 'a').state === 'ready');
      const old = pids(before);
      const from = d.lines.length;
      process.kill(old.b!, 'SIGKILL');
      const after = await d.until('b and c to have new pids', (s) =>
        ['b', 'c'].every((n) => byName(s, n).pid !== null && byName(s, n).pid !== old[n]),
      );
      const log = d.lines.join('\n');
      assert.equal(byName(after, 'a').pid, old.a, `a keeps its pid:\n${log}`);
      assert.equal(byName(after, 'a').state, 'ready');
      assert.equal(find(d, from, / a\[0\] /), -1, `nothing happens to a:\n${log}`);
      const cExited = find(d, from, / c\[0\] exited /);
      const bStarted = find(d, from, / b\[0\] started /);
      const cStarted = find(d, from, / c\[0\] started /);
      assert.ok(find(d, from, / b\[0\] exited /) < cExited && cExited < bStarted && bStarted < cStarted, log);
      assert.deepEqual(
        after.programs.map((x) => [x.name, x.restarts]),
        [
          ['a', 0],
          ['b', 1],
          ['c', 0],
        ],
      );
    });
  });
});
