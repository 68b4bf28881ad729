// The fleet's config keys: `fleet: { database, host, leaseTtl, schema }` and `placement:
// singleton`, each bad value reported at its own path with what to do about it.

import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { ConfigError, validateConfig } from '../../src/fleet/config.js';
import { leaseTiming } from '../../src/fleet/fleet-config.js';

const FILE = '/tmp/project/bosun.config.yaml';
const URL = 'postgres://postgres@127.0.0.1:5432/test';

function problems(raw: object): string[] {
  try {
    validateConfig(raw, FILE, { checkFiles: false });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const prog = { command: ['node', 'x.js'] };

describe('fleet config', () => {
  test('defaults: the host is the hostname, the lease 15 s, the schema bosun', () => {
    const c = validateConfig({ fleet: { database: URL }, programs: { cron: { ...prog, placement: 'singleton' } } }, FILE, {
      checkFiles: false,
    });
    assert.deepEqual(c.fleet, { database: URL, host: hostname(), leaseTtlMs: 15_000, schema: 'bosun' });
    assert.equal(c.programs[0]!.placement, 'singleton');
  });

  test('a config without fleet has no fleet and programs without placement', () => {
    const c = validateConfig({ programs: { web: prog } }, FILE, { checkFiles: false });
    assert.equal(c.fleet, undefined);
    assert.equal(c.programs[0]!.placement, undefined);
  });

  for (const url of ['pglite:///var/lib/bosun', './data/pglite', 'file:///srv/db', 'memory://', 'idb://bosun']) {
    test(`a PGlite database (${url}) is refused: it cannot be shared`, () => {
      const p = problems({ fleet: { database: url }, programs: { web: prog } });
      assert.equal(p.length, 1, p.join('\n'));
      assert.match(p[0]!, /^fleet\.database: .*PGlite.*cannot be shared.*postgres:\/\//);
    });
  }

  test('a URL of another database is refused, its password hidden', () => {
    const p = problems({ fleet: { database: 'mysql://root:hunter2@db/app' }, programs: { web: prog } });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^fleet\.database: expected a PostgreSQL URL/);
    assert.doesNotMatch(p[0]!, /hunter2/);
  });

  test('a missing database is reported at fleet.database', () => {
    assert.deepEqual(problems({ fleet: { host: 'web-1' }, programs: { web: prog } }), [
      'fleet.database: required (the PostgreSQL URL every daemon of the fleet shares)',
    ]);
  });

  test('unknown keys, bad host names and schemas at their paths', () => {
    const p = problems({ fleet: { database: URL, host: 'web 1', schema: 'a-b', ttl: 3 }, programs: { web: prog } });
    assert.ok(
      p.some((l) => l.startsWith('fleet.ttl: unknown key')),
      p.join('\n'),
    );
    assert.ok(
      p.some((l) => l.startsWith('fleet.host: a host name may hold')),
      p.join('\n'),
    );
    assert.ok(
      p.some((l) => l.startsWith('fleet.schema: expected a plain identifier')),
      p.join('\n'),
    );
  });

  test('a lease too short to fence the program given its killTimeout is named at fleet.leaseTtl, with the arithmetic', () => {
    // 3 s: renew 1 s, margin 300 ms, so a program must stop within 1.7 s; its killTimeout is 5 s.
    const p = problems({ fleet: { database: URL, leaseTtl: '3s' }, programs: { cron: { ...prog, placement: 'singleton' } } });
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /^fleet\.leaseTtl: 3000ms cannot fence programs\.cron \(killTimeout 5000ms\)/);
    assert.match(p[0]!, /leaseTtl\/3 = 1000ms/);
    assert.match(p[0]!, /lower programs\.cron\.killTimeout to at most 1700ms or raise fleet\.leaseTtl to at least (\d+)ms/);
    const min = Number(/at least (\d+)ms$/.exec(p[0]!)![1]);
    assert.ok(leaseTiming(min).maxKillTimeoutMs >= 5000, `${min}ms fences a 5 s killTimeout`);
    assert.deepEqual(problems({ fleet: { database: URL, leaseTtl: min }, programs: { cron: { ...prog, placement: 'singleton' } } }), []);
    assert.deepEqual(
      problems({ fleet: { database: URL, leaseTtl: '3s' }, programs: { cron: { ...prog, placement: 'singleton', killTimeout: 1700 } } }),
      [],
    );
    // Programs that are not singletons are not fenced: any killTimeout will do.
    assert.deepEqual(problems({ fleet: { database: URL, leaseTtl: '3s' }, programs: { web: { ...prog, killTimeout: '1m' } } }), []);
  });

  test('a singleton needs a fleet, runs one instance and never rolls', () => {
    assert.deepEqual(problems({ programs: { cron: { ...prog, placement: 'singleton' } } }), [
      'programs.cron.placement: singleton needs a fleet: set fleet.database to the PostgreSQL the hosts share',
    ]);
    assert.deepEqual(problems({ fleet: { database: URL }, programs: { cron: { ...prog, placement: 'singleton', instances: 2 } } }), [
      'programs.cron.instances: a singleton runs one instance on one host of the fleet, got 2',
    ]);
    assert.deepEqual(problems({ fleet: { database: URL }, programs: { cron: { ...prog, placement: 'singleton', rolling: true } } }), [
      'programs.cron.rolling: a singleton cannot roll: its replacement would run beside it (it is restarted instead)',
    ]);
    assert.deepEqual(problems({ fleet: { database: URL }, programs: { cron: { ...prog, placement: 'everywhere' } } }), [
      "programs.cron.placement: expected singleton, got 'everywhere'",
    ]);
  });
});
