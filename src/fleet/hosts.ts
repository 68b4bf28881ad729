// The fleet's registry of hosts in the shared PostgreSQL: each daemon claims its host name,
// keeps a row per program instance there (written on every change and at least every
// leaseTtl/3), and marks itself gone when it shuts down. Any daemon reads the whole fleet
// from it; a host whose rows are older than its leaseTtl shows as unreachable: by then every
// singleton lease it held has expired too, so "unreachable" and "holds nothing" coincide.
//
// Two statements do all the writing: the claim at start (refused while another live daemon
// holds the name) and one refresh that updates the host and replaces its rows, so an idle
// fleet costs each host one query per refresh. The driver (pg) is loaded when the registry opens.

import { hostname as machineName } from 'node:os';
import type pg from 'pg';
import { BosunError } from '../core/errors.js';
import { redact, type FleetSettings } from './fleet-config.js';
import type { ProgramStatus, State } from './status.js';

/** A host as `status --fleet` shows it. */
export interface HostStatus {
  host: string;
  /** `up` while it refreshes its rows; `unreachable` once they are older than its leaseTtl; `gone` after its daemon shut down. */
  state: 'up' | 'unreachable' | 'gone';
  machine: string;
  pid: number;
  home: string;
  startedAt: string;
  seenAt: string;
  /** How long ago it last wrote its rows, by the database's clock. */
  ageMs: number;
}

/** An instance row of `status --fleet`: a `status --json` row with its host, whose state is `unreachable` while the host is. */
export interface FleetProgramStatus extends Omit<ProgramStatus, 'state' | 'host'> {
  host: string;
  state: State | 'unreachable';
  /** For a row of an unreachable host: the state it last reported. */
  lastState?: State;
}

export interface FleetStatusBody {
  /** The daemon that answered. */
  self: string;
  hosts: HostStatus[];
  programs: FleetProgramStatus[];
}

/** The fleet's database cannot be used (unreachable, missing, refused): a config problem at `fleet.database`. */
export class FleetDatabaseError extends BosunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FLEET_DATABASE', message, options);
  }
}

/** Another live daemon holds this host name. */
export class HostClaimedError extends BosunError {
  constructor(message: string) {
    super('ERR_HOST_CLAIMED', message);
  }
}

/** The URL with an application_name naming the host (unless it has one), so a DBA sees whose sessions these are. */
export function urlFor(settings: FleetSettings): string {
  const u = new URL(settings.database);
  if (!u.searchParams.has('application_name')) u.searchParams.set('application_name', `bosun-fleet:${settings.host}`);
  return u.toString();
}

export class HostRegistry {
  readonly host: string;
  readonly #settings: FleetSettings;
  readonly #pool: pg.Pool;
  readonly #s: string;
  readonly #daemon: string;
  readonly #home: string;

  private constructor(settings: FleetSettings, home: string, pool: pg.Pool) {
    this.host = settings.host;
    this.#settings = settings;
    this.#pool = pool;
    this.#s = `"${settings.schema}"`;
    this.#home = home;
    this.#daemon = `${machineName()}:${process.pid}:${Date.now().toString(36)}`;
  }

  /**
   * Connects, creates the tables if needed and claims the host name. Throws FleetDatabaseError
   * when the database cannot be used and HostClaimedError when a live daemon holds the name.
   */
  static async open(settings: FleetSettings, home: string): Promise<HostRegistry> {
    let driver: typeof pg;
    try {
      // Loaded here, not at import: bosun/fleet without a fleet never needs the driver.
      driver = (await import('pg')).default;
    } catch (err) {
      throw new FleetDatabaseError('fleet.database: the PostgreSQL driver is not installed; add it with `npm install pg`', { cause: err });
    }
    const pool = new driver.Pool({ connectionString: urlFor(settings), max: 2, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
    pool.on('error', () => {}); // an idle client's error (server gone): the next query reconnects
    const reg = new HostRegistry(settings, home, pool);
    try {
      await reg.#migrate();
    } catch (err) {
      await pool.end().catch(() => {});
      throw new FleetDatabaseError(`fleet.database: cannot use ${redact(settings.database)}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await reg.#claim(true);
    } catch (err) {
      await pool.end().catch(() => {});
      if (err instanceof HostClaimedError) throw err;
      throw new FleetDatabaseError(
        `fleet.database: cannot register host ${settings.host} in ${redact(settings.database)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return reg;
  }

  async #migrate(): Promise<void> {
    const s = this.#s;
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`bosun.fleet.migrate:${this.#settings.schema}`]);
      await client.query(`
        CREATE SCHEMA IF NOT EXISTS ${s};
        CREATE TABLE IF NOT EXISTS ${s}.fleet_hosts (
          host text PRIMARY KEY,
          daemon text NOT NULL,
          machine text NOT NULL,
          pid integer NOT NULL,
          home text NOT NULL,
          stale_ms integer NOT NULL,
          started_at timestamptz NOT NULL,
          seen_at timestamptz NOT NULL,
          gone_at timestamptz
        );
        CREATE TABLE IF NOT EXISTS ${s}.fleet_instances (
          host text NOT NULL REFERENCES ${s}.fleet_hosts (host) ON DELETE CASCADE,
          name text NOT NULL,
          instance integer NOT NULL,
          ord integer NOT NULL,
          state text NOT NULL,
          status jsonb NOT NULL,
          seen_at timestamptz NOT NULL,
          PRIMARY KEY (host, name, instance)
        );`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Takes the host name unless another live daemon holds it. At start (`successor`), the same
   * home on the same machine is this daemon's predecessor (the home admits one daemon at a
   * time), so it is taken over without waiting for its rows to age.
   */
  async #claim(successor: boolean): Promise<void> {
    const s = this.#s;
    const machine = machineName();
    const { rows } = await this.#pool.query<{ daemon: string | null; machine: string; pid: number; home: string; age_ms: number }>(
      `WITH prune AS (DELETE FROM ${s}.fleet_hosts WHERE gone_at < now() - interval '1 day' AND host <> $1)
       INSERT INTO ${s}.fleet_hosts AS h (host, daemon, machine, pid, home, stale_ms, started_at, seen_at)
       VALUES ($1, $2, $3, $4, $5, $6, now(), now())
       ON CONFLICT (host) DO UPDATE SET daemon = excluded.daemon, machine = excluded.machine, pid = excluded.pid,
         home = excluded.home, stale_ms = excluded.stale_ms, started_at = now(), seen_at = now(), gone_at = NULL
       WHERE h.gone_at IS NOT NULL OR h.seen_at < now() - h.stale_ms * interval '1 millisecond'
          OR ($7 AND h.machine = excluded.machine AND h.home = excluded.home)
       RETURNING daemon`,
      [this.host, this.#daemon, machine, process.pid, this.#home, this.#settings.leaseTtlMs, successor],
    );
    if (rows.length > 0) return;
    const held = await this.#pool.query<{ machine: string; pid: number; home: string; age_ms: number }>(
      `SELECT machine, pid, home, extract(epoch FROM now() - seen_at) * 1000 AS age_ms FROM ${s}.fleet_hosts WHERE host = $1`,
      [this.host],
    );
    const o = held.rows[0];
    const other =
      o === undefined
        ? 'another daemon'
        : `pid ${o.pid} on machine ${o.machine} (home ${o.home}), seen ${Math.round(Number(o.age_ms))}ms ago`;
    throw new HostClaimedError(
      `fleet.host: host name '${this.host}' is claimed by a live daemon: ${other}; this daemon is pid ${process.pid} on machine ${machine} (home ${this.#home}). ` +
        'Give each daemon of the fleet its own fleet.host',
    );
  }

  /** Writes this host's rows (replacing them) and its heartbeat; false when another daemon took the host name meanwhile. */
  async refresh(programs: ProgramStatus[]): Promise<boolean> {
    const s = this.#s;
    const rows = programs.map((p, ord) => ({ name: p.name, instance: p.instance, ord, state: p.state, status: p }));
    const { rows: out } = await this.#pool.query<{ n: number }>(
      `WITH h AS (UPDATE ${s}.fleet_hosts SET seen_at = now() WHERE host = $1 AND daemon = $2 RETURNING host),
       r AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(name text, instance integer, ord integer, state text, status jsonb)),
       d AS (DELETE FROM ${s}.fleet_instances i WHERE i.host = $1 AND EXISTS (SELECT 1 FROM h)
             AND NOT EXISTS (SELECT 1 FROM r WHERE r.name = i.name AND r.instance = i.instance)),
       u AS (INSERT INTO ${s}.fleet_instances (host, name, instance, ord, state, status, seen_at)
             SELECT $1, name, instance, ord, state, status, now() FROM r WHERE EXISTS (SELECT 1 FROM h)
             ON CONFLICT (host, name, instance) DO UPDATE SET ord = excluded.ord, state = excluded.state,
               status = excluded.status, seen_at = excluded.seen_at)
       SELECT count(*)::int AS n FROM h`,
      [this.host, this.#daemon, JSON.stringify(rows)],
    );
    if (out[0]?.n === 1) return true;
    // Frozen past leaseTtl, another daemon took the name: take it back only once it lapses.
    try {
      await this.#claim(false);
      return true;
    } catch (err) {
      if (err instanceof HostClaimedError) return false;
      throw err;
    }
  }

  /** Every host and instance of the fleet, states judged by the database's clock. */
  async fleetStatus(): Promise<FleetStatusBody> {
    const s = this.#s;
    const hosts = await this.#pool.query<{
      host: string;
      machine: string;
      pid: number;
      home: string;
      stale_ms: number;
      started_at: Date;
      seen_at: Date;
      gone_at: Date | null;
      age_ms: number;
    }>(
      `SELECT host, machine, pid, home, stale_ms, started_at, seen_at, gone_at, extract(epoch FROM now() - seen_at) * 1000 AS age_ms
       FROM ${s}.fleet_hosts ORDER BY host`,
    );
    const inst = await this.#pool.query<{ host: string; status: ProgramStatus }>(
      `SELECT host, status FROM ${s}.fleet_instances ORDER BY host, ord, instance`,
    );
    const stateOf = new Map<string, HostStatus['state']>();
    const out: FleetStatusBody = { self: this.host, hosts: [], programs: [] };
    for (const h of hosts.rows) {
      const ageMs = Math.max(0, Math.round(Number(h.age_ms)));
      const state = h.gone_at !== null ? 'gone' : ageMs > h.stale_ms ? 'unreachable' : 'up';
      stateOf.set(h.host, state);
      out.hosts.push({
        host: h.host,
        state,
        machine: h.machine,
        pid: h.pid,
        home: h.home,
        startedAt: h.started_at.toISOString(),
        seenAt: h.seen_at.toISOString(),
        ageMs,
      });
    }
    for (const r of inst.rows) {
      const hostState = stateOf.get(r.host);
      if (hostState === 'gone') continue;
      const { host: _ignored, ...row } = r.status;
      if (hostState === 'unreachable') out.programs.push({ ...row, host: r.host, state: 'unreachable', lastState: row.state });
      else out.programs.push({ ...row, host: r.host });
    }
    return out;
  }

  /** Marks this host gone (its rows removed) and closes the connections. */
  async close(): Promise<void> {
    const s = this.#s;
    try {
      await this.#pool.query(
        `WITH h AS (UPDATE ${s}.fleet_hosts SET gone_at = now(), seen_at = now() WHERE host = $1 AND daemon = $2 RETURNING host)
         DELETE FROM ${s}.fleet_instances WHERE host IN (SELECT host FROM h)`,
        [this.host, this.#daemon],
      );
    } finally {
      await this.#pool.end().catch(() => {});
    }
  }
}
