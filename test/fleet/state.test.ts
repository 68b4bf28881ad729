// The fleet's state file: the changes of one turn go in one write at its end, flush() writes at
// once, and a run of failed writes is reported once and healed by the next good write.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FleetState, type InstanceEntry } from '../../src/fleet/state.js';

const entry = (index: number): InstanceEntry => ({
  program: 'web',
  index,
  pid: 1000 + index,
  startTime: 5,
  slot: 'a',
  ready: true,
  fingerprint: 'f',
  restarts: 0,
});
const turn = () => new Promise((r) => setImmediate(r));

function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'bosun-state-'));
  return fn(home).finally(() => rmSync(home, { recursive: true, force: true }));
}

const fileOf = (home: string) => join(home, 'run', 'instances.json');
const written = (home: string): InstanceEntry[] => {
  try {
    return (JSON.parse(readFileSync(fileOf(home), 'utf8')) as { instances: InstanceEntry[] }).instances;
  } catch {
    return [];
  }
};

test('twenty starts in one turn are one write at its end; a new FleetState reads them back', () =>
  withHome(async (home) => {
    const state = new FleetState(home);
    for (let i = 0; i < 20; i++) state.set(entry(i));
    assert.deepEqual(written(home), [], 'nothing written within the turn');
    await turn();
    assert.equal(written(home).length, 20);
    assert.deepEqual(new FleetState(home).read(), written(home));
    state.delete('web', 3, 1003);
    state.flush();
    assert.deepEqual(
      written(home).map((e) => e.index),
      [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
      'flush() writes at once',
    );
  }));

test('failed writes are reported once for the run of them, kept as `error`, and the next good write heals', () =>
  withHome(async (home) => {
    const errors: Error[] = [];
    const state = new FleetState(home, (err) => errors.push(err));
    // A directory where the temporary file goes: every write fails.
    mkdirSync(join(home, 'run', 'instances.json.tmp', 'x'), { recursive: true });
    state.set(entry(0));
    await turn();
    state.set(entry(1));
    await turn();
    assert.equal(errors.length, 1, errors.map((e) => e.message).join('; '));
    assert.ok(state.error !== undefined);
    assert.deepEqual(written(home), []);
    rmSync(join(home, 'run', 'instances.json.tmp'), { recursive: true });
    state.set(entry(2));
    await turn();
    assert.equal(state.error, undefined);
    assert.deepEqual(
      written(home).map((e) => e.index),
      [0, 1, 2],
      'nothing set while writes failed is lost',
    );
  }));
