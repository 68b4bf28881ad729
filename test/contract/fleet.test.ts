// Contract check of `bosun/fleet`, imported by package name (dist/), against shared/DESIGN.md:
// loadConfig/validateConfig/ConfigError, and a Fleet as a Worker with status(), commands on
// targets, lifecycle events, and a real child process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError } from 'bosun';
import { ConfigError, Fleet, loadConfig, validateConfig, type LifecycleEvent } from 'bosun/fleet';

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('contract: bosun/fleet', () => {
  test('validateConfig and loadConfig throw ConfigError with one problem a line, each starting with its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-contract-fleet-'));
    try {
      assert.throws(
        () => validateConfig({ programs: { api: { restart: 'sometimes' } } }, join(dir, 'bosun.config.json')),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.problems.includes('programs.api.command: required') &&
          e.problems.some((p) => p.startsWith('programs.api.restart: ')),
      );
      const file = join(dir, 'bosun.config.json');
      writeFileSync(file, JSON.stringify({ programs: { api: { command: ['node', '-e', '0'] } } }));
      const config = await loadConfig(file);
      assert.equal(config.programs[0]!.name, 'api');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a Fleet is a Worker: status rows, name:index targets, events, NotFoundError, kill stops everything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-contract-fleet-'));
    const script = 'console.log("up " + process.env.BOSUN_INSTANCE); setInterval(() => {}, 1000);';
    const config = validateConfig(
      { programs: { api: { command: [process.execPath, '-e', script], instances: 2, ready: { log: 'up' } } } },
      join(dir, 'bosun.config.json'),
    );
    const fleet = new Fleet({ config });
    const events: LifecycleEvent[] = [];
    fleet.on('event', (e) => events.push(e));
    try {
      await until('both ready', () => fleet.status().programs.filter((p) => p.state === 'ready').length === 2);
      const before = fleet.status().programs.map((p) => p.pid);
      await fleet.restart('api:1');
      const after = fleet.status().programs;
      assert.equal(after[0]!.pid, before[0]);
      assert.notEqual(after[1]!.pid, before[1]);
      assert.ok(after[1]!.pid !== null);
      assert.deepEqual(
        after.map((p) => p.restarts),
        [0, 0],
        'a restart by command does not count',
      );
      assert.equal(after[1]!.reason, 'command');
      await assert.rejects(fleet.stop('nope'), NotFoundError);
      assert.ok(events.some((e) => e.program === 'api' && e.instance === 1 && e.event === 'stopped'));
      assert.ok(events.some((e) => e.event === 'ready'));
    } finally {
      fleet.kill();
      await fleet.wait();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(fleet.status().programs.every((p) => p.pid === null && p.state === 'stopped'));
  });
});
