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
    throw new MigrationError(
      `schema ${schema} is at migration ${newest}, newer than this bosun knows (${LATEST_VERSION}); upgrade bosun`,
    );
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
