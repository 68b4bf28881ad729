// The one SQL schema, shared by PGlite and PostgreSQL, as numbered migrations. They run at
// open inside one transaction holding an advisory lock on the schema's name, so when many
// processes open the same database at once, exactly one applies each migration and the
// others wait, then see it applied. Never edit a released migration: add the next one.

import { MigrationError } from './errors.js';

/** What a migration needs from a connection inside the migrating transaction. */
export interface MigrationTx {
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs several statements without parameters. */
  exec(text: string): Promise<void>;
}

interface Migration {
  version: number;
  name: string;
  sql: (s: string, channel: string) => string;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'jobs and leases',
    sql: (s, channel) => `
      CREATE TABLE ${s}.jobs (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind <> ''),
        payload jsonb NOT NULL,
        state text NOT NULL DEFAULT 'pending'
          CHECK (state IN ('pending', 'running', 'done', 'failed', 'cancelled')),
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
        priority integer NOT NULL DEFAULT 0,
        run_at timestamptz NOT NULL DEFAULT now(),
        key text,
        last_error text,
        locked_by text,
        locked_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      );
      -- claim order: priority desc, run_at, id, over pending jobs of one kind only
      CREATE INDEX jobs_claim ON ${s}.jobs (kind, priority DESC, run_at, id) WHERE state = 'pending';
      CREATE INDEX jobs_due ON ${s}.jobs (kind, run_at) WHERE state = 'pending';
      CREATE INDEX jobs_leases ON ${s}.jobs (kind, locked_until) WHERE state = 'running';
      CREATE UNIQUE INDEX jobs_key ON ${s}.jobs (key) WHERE key IS NOT NULL AND state IN ('pending', 'running');
      CREATE INDEX jobs_finished ON ${s}.jobs (state, finished_at) WHERE state IN ('done', 'failed', 'cancelled');
      CREATE TABLE ${s}.leases (
        name text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
      );
      -- one notification per kind per inserting statement wakes idle consumers at once
      CREATE FUNCTION ${s}.notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM pg_notify(TG_ARGV[0], k.kind) FROM (SELECT DISTINCT kind FROM new_rows) AS k;
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER jobs_notify AFTER INSERT ON ${s}.jobs
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.notify_jobs('${channel}');
    `,
  },
  {
    version: 2,
    name: 'scheduled state, named queues, claimed-ahead jobs, schedules, claim function',
    // Jobs not yet due (delayed, backing off) move to state 'scheduled' (shown as pending), so
    // the claim index holds only due jobs and a claim's cost does not grow with future jobs
    // at any priority; claim() promotes the due ones first, through their own index.
    sql: (s) => `
      ALTER TABLE ${s}.jobs ADD COLUMN queue text, ADD COLUMN started_at timestamptz;
      ALTER TABLE ${s}.jobs DROP CONSTRAINT jobs_state_check;
      ALTER TABLE ${s}.jobs ADD CONSTRAINT jobs_state_check
        CHECK (state IN ('pending', 'scheduled', 'running', 'done', 'failed', 'cancelled'));
      UPDATE ${s}.jobs SET state = 'scheduled' WHERE state = 'pending' AND run_at > now();
      UPDATE ${s}.jobs SET started_at = now() WHERE state = 'running';
      DROP INDEX ${s}.jobs_due;
      CREATE INDEX jobs_scheduled ON ${s}.jobs (kind, run_at) WHERE state = 'scheduled';
      DROP INDEX ${s}.jobs_key;
      CREATE UNIQUE INDEX jobs_key ON ${s}.jobs (key)
        WHERE key IS NOT NULL AND state IN ('pending', 'scheduled', 'running');
      CREATE INDEX jobs_queue ON ${s}.jobs (queue, id)
        WHERE queue IS NOT NULL AND state IN ('pending', 'scheduled', 'running');
      CREATE INDEX jobs_queue_running ON ${s}.jobs (queue) WHERE queue IS NOT NULL AND state = 'running';
      CREATE TABLE ${s}.schedules (
        name text PRIMARY KEY,
        cron text NOT NULL,
        kind text NOT NULL,
        payload jsonb NOT NULL,
        timezone text,
        last_tick_ms bigint NOT NULL
      );
      -- One round trip per claim: promote due scheduled jobs of the kind, claim up to p_n due
      -- jobs (a named queue's job only while nothing of its queue runs and it is the queue's
      -- first live job), count an attempt for each, mark the first p_start started (the rest
      -- are held ahead: if their holder dies before starting them, reap gives the attempt
      -- back), and say when the next job is due if fewer than p_n were found.
      CREATE FUNCTION ${s}.claim(p_kind text, p_n integer, p_start integer, p_token text, p_lease_ms float8)
      RETURNS json LANGUAGE plpgsql AS $fn$
      DECLARE
        v_jobs json;
        v_count integer;
        v_next float8;
      BEGIN
        UPDATE ${s}.jobs SET state = 'pending'
        WHERE id IN (SELECT id FROM ${s}.jobs WHERE kind = p_kind AND state = 'scheduled' AND run_at <= now()
                     ORDER BY run_at LIMIT 10000 FOR UPDATE SKIP LOCKED);
        WITH c AS (
          SELECT id, priority, run_at FROM ${s}.jobs j
          WHERE kind = p_kind AND state = 'pending'
            AND (queue IS NULL OR (
              NOT EXISTS (SELECT 1 FROM ${s}.jobs r WHERE r.queue = j.queue AND r.state = 'running')
              AND NOT EXISTS (SELECT 1 FROM ${s}.jobs o WHERE o.queue = j.queue
                              AND o.state IN ('pending', 'scheduled', 'running') AND o.id < j.id)))
          ORDER BY priority DESC, run_at, id
          LIMIT p_n
          FOR UPDATE SKIP LOCKED
        ), o AS (
          SELECT id, row_number() OVER (ORDER BY priority DESC, run_at, id) AS rn FROM c
        ), u AS (
          UPDATE ${s}.jobs j SET state = 'running',
            attempts = j.attempts + 1,
            started_at = CASE WHEN o.rn <= p_start THEN now() END,
            locked_by = p_token, locked_until = now() + p_lease_ms * interval '1 millisecond'
          FROM o WHERE j.id = o.id
          RETURNING j.*, j.id::text AS sid, o.rn, (extract(epoch FROM now() - j.run_at) * 1000)::float8 AS wait_ms
        )
        SELECT json_agg(u ORDER BY u.rn), count(*) INTO v_jobs, v_count FROM u;
        IF v_count < p_n THEN
          IF EXISTS (SELECT 1 FROM ${s}.jobs WHERE kind = p_kind AND state = 'pending' AND queue IS NULL) THEN
            v_next := 0;
          ELSE
            SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::float8 INTO v_next
            FROM ${s}.jobs WHERE kind = p_kind AND state = 'scheduled';
          END IF;
        END IF;
        RETURN json_build_object('jobs', coalesce(v_jobs, '[]'::json), 'next_ms', v_next);
      END
      $fn$;
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Quotes a schema name after checking it is a plain identifier. */
export function quoteSchema(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,50}$/.test(schema)) {
    throw new TypeError(`schema must be a plain identifier (letters, digits, _), got ${JSON.stringify(schema)}`);
  }
  return `"${schema}"`;
}

/** The NOTIFY channel of a schema's queue. */
export function channelOf(schema: string): string {
  return `bosun_jobs_${schema}`;
}

/**
 * Brings `schema` up to date. Call inside a transaction: the advisory lock is released at its
 * end. Returns the versions this call applied (empty when another process already had).
 */
export async function migrate(tx: MigrationTx, schema: string): Promise<number[]> {
  const s = quoteSchema(schema);
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`bosun.queue.migrate:${schema}`]);
  await tx.exec(`
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );`);
  const rows = await tx.query(`SELECT version FROM ${s}.migrations`);
  const done = new Set(rows.map((r) => Number(r['version'])));
  const newest = Math.max(0, ...done);
  if (newest > LATEST_VERSION) {
    throw new MigrationError(`schema ${schema} is at migration ${newest}, newer than this bosun knows (${LATEST_VERSION}); upgrade bosun`);
  }
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    try {
      await tx.exec(m.sql(s, channelOf(schema)));
    } catch (err) {
      throw new MigrationError(`migration ${m.version} (${m.name}) failed on schema ${schema}`, { cause: err });
    }
    await tx.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    applied.push(m.version);
  }
  return applied;
}
