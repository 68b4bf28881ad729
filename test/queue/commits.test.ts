// What a commit waits for, on PostgreSQL: a claim is committed without waiting for its WAL flush
// (a claim lost to a crash of PostgreSQL itself leaves the job claimable, as a lapsed lease
// does), while an add and an acknowledgement are flushed before they resolve. Shown on a cluster
// of the test's own whose WAL writer waits 10 s and that logs no standby snapshots (wal_level
// minimal), so between two statements only a commit that asks for it moves the flush position.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { JobQueue, postgresStore, type Store } from '../../src/queue/index.js';
import { Cluster, skipReason } from './cluster.js';

describe('what a commit waits for (own cluster)', { skip: skipReason() }, () => {
  let cluster: Cluster;
  let admin: pg.Client;
  before(async () => {
    cluster = await Cluster.create({ wal_writer_delay: '10s', wal_level: 'minimal', max_wal_senders: '0' });
    admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
  });
  after(async () => {
    await admin?.end();
    await cluster?.destroy();
  });

  /** True when every WAL record written so far is flushed. */
  const flushed = async () =>
    (await admin.query<{ f: boolean }>('SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn() AS f')).rows[0]!.f;

  test('a claim commits without waiting for the WAL flush; an add and an acknowledgement are flushed before they resolve', async () => {
    const store: Store = postgresStore({ connectionString: cluster.url, schema: 'commits' });
    const q = await JobQueue.open({ store });
    try {
      await q.add('c', 1);
      assert.equal(await flushed(), true, 'an add is on disk when it resolves');
      const { claims } = await store.claim('c', 1, 1, 30_000, 'holder');
      assert.equal(claims.length, 1);
      assert.equal(await flushed(), false, "the claim's commit did not wait for the flush");
      const { done } = await store.completeMany([claims[0]!.job], 'holder');
      assert.deepEqual([...done], [claims[0]!.job.id]);
      assert.equal(await flushed(), true, "the acknowledgement is on disk when it resolves, and the claim's record before it");
      assert.equal((await store.get(claims[0]!.job.id))!.state, 'done');
    } finally {
      await q.close();
    }
  });
});
