// The registry of hosts on the real PostgreSQL, in a schema of its own that is dropped after:
// claiming a host name (refused while another live daemon holds it, naming both), rows that
// replace each other, a host that stops writing shown as unreachable after its leaseTtl, gone
// after close; and databases that cannot be used, reported at fleet.database.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { FleetSettings } from '../../src/fleet/fleet-config.js';
import { FleetDatabaseError, HostClaimedError, HostRegistry } from '../../src/fleet/hosts.js';
import type { ProgramStatus } from '../../src/fleet/status.js';
import { freePort } from '../support.js';
import { DATABASE_URL, dropSchema, uniqueSchema } from '../queue/helpers.js';

const schemas: string[] = [];
after(async () => {
  for (const s of schemas) await dropSchema(s);
});

function settings(host: string, schema: string, leaseTtlMs = 15_000): FleetSettings {
  return { database: DATABASE_URL, host, leaseTtlMs, schema };
}

function row(name: string, state: ProgramStatus['state'], pid: number | null = 123): ProgramStatus {
  return { name, instance: 0, pid, state, restarts: 0, uptimeMs: 10, memoryBytes: 1, cpuPercent: 0 };
}

describe('host registry (PostgreSQL)', () => {
  test('hosts register, write their rows and read the whole fleet; a closed host is gone with its rows', async () => {
    const schema = uniqueSchema('hosts');
    schemas.push(schema);
    const a = await HostRegistry.open(settings('a', schema), '/srv/a');
    const b = await HostRegistry.open(settings('b', schema), '/srv/b');
    assert.equal(await a.refresh([row('web', 'running'), row('cron', 'standby', null)]), true);
    assert.equal(await b.refresh([row('web', 'running'), row('cron', 'running')]), true);
    // A later refresh replaces the rows: cron went away on a.
    assert.equal(await a.refresh([row('web', 'backoff', null)]), true);
    const fleet = await b.fleetStatus();
    assert.equal(fleet.self, 'b');
    assert.deepEqual(
      fleet.hosts.map((h) => [h.host, h.state, h.home]),
      [
        ['a', 'up', '/srv/a'],
        ['b', 'up', '/srv/b'],
      ],
    );
    assert.deepEqual(
      fleet.programs.map((p) => [p.host, p.name, p.state]),
      [
        ['a', 'web', 'backoff'],
        ['b', 'web', 'running'],
        ['b', 'cron', 'running'],
      ],
    );
    await a.close();
    const later = await b.fleetStatus();
    assert.deepEqual(
      later.hosts.map((h) => [h.host, h.state]),
      [
        ['a', 'gone'],
        ['b', 'up'],
      ],
    );
    assert.deepEqual(
      later.programs.map((p) => p.host),
      ['b', 'b'],
    );
    // A gone host's name is free again.
    const again = await HostRegistry.open(settings('a', schema), '/srv/elsewhere');
    await again.close();
    await b.close();
  });

  test('a second live daemon claiming a host name is refused with both named', async () => {
    const schema = uniqueSchema('hosts');
    schemas.push(schema);
    const first = await HostRegistry.open(settings('web-1', schema), '/srv/one');
    await assert.rejects(HostRegistry.open(settings('web-1', schema), '/srv/two'), (err: unknown) => {
      assert.ok(err instanceof HostClaimedError);
      assert.match(
        err.message,
        /^fleet\.host: host name 'web-1' is claimed by a live daemon: pid \d+ on machine .+ \(home \/srv\/one\).*this daemon is pid \d+ on machine .+ \(home \/srv\/two\)/,
      );
      return true;
    });
    // The same home on the same machine is its own successor (the home admits one daemon): taken over.
    const successor = await HostRegistry.open(settings('web-1', schema), '/srv/one');
    assert.equal(await first.refresh([row('web', 'running')]), false, 'the predecessor lost the name');
    await successor.close();
    await first.close();
  });

  test('a host that stops writing shows as unreachable once its rows are older than its leaseTtl, its rows too', async () => {
    const schema = uniqueSchema('hosts');
    schemas.push(schema);
    const quiet = await HostRegistry.open(settings('quiet', schema, 400), '/srv/q');
    const watcher = await HostRegistry.open(settings('watcher', schema), '/srv/w');
    await quiet.refresh([row('web', 'running')]);
    const before = await watcher.fleetStatus();
    assert.equal(before.hosts.find((h) => h.host === 'quiet')!.state, 'up');
    // quiet writes nothing more (a SIGKILLed daemon): after 400 ms by the database's clock it is unreachable.
    let last = before;
    for (let i = 0; i < 200 && last.hosts.find((h) => h.host === 'quiet')!.state !== 'unreachable'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      last = await watcher.fleetStatus();
    }
    const h = last.hosts.find((x) => x.host === 'quiet')!;
    assert.equal(h.state, 'unreachable');
    assert.ok(h.ageMs > 400);
    const web = last.programs.find((p) => p.host === 'quiet')!;
    assert.equal(web.state, 'unreachable', 'not shown as running');
    assert.equal(web.lastState, 'running');
    // Writing again brings it back.
    await quiet.refresh([row('web', 'running')]);
    assert.equal((await watcher.fleetStatus()).hosts.find((x) => x.host === 'quiet')!.state, 'up');
    await quiet.close();
    await watcher.close();
  });

  test('a database that does not exist, or a server that does not answer, is a problem at fleet.database', async () => {
    const missing = new URL(DATABASE_URL);
    missing.pathname = `/bosun_missing_${process.pid}`;
    await assert.rejects(HostRegistry.open({ ...settings('a', 'bosun'), database: missing.toString() }, '/srv/a'), (err: unknown) => {
      assert.ok(err instanceof FleetDatabaseError);
      assert.match(err.message, /^fleet\.database: cannot use postgres:\/\/.*bosun_missing_\d+.*does not exist/);
      return true;
    });
    const closed = new URL(DATABASE_URL);
    closed.port = String(await freePort());
    await assert.rejects(HostRegistry.open({ ...settings('a', 'bosun'), database: closed.toString() }, '/srv/a'), (err: unknown) => {
      assert.ok(err instanceof FleetDatabaseError);
      assert.match(err.message, /^fleet\.database: cannot use .*ECONNREFUSED/);
      return true;
    });
  });
});
