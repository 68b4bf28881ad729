// The config keys of a fleet across hosts: `fleet: { database, host, leaseTtl, schema }` and a
// program's `placement: singleton`, validated at their paths. Also the lease arithmetic that a
// singleton's fencing rests on, so the validator and the running fleet use the same numbers.

import { hostname } from 'node:os';
import { show, type Validator } from './validator.js';

export interface FleetSettings {
  /** PostgreSQL URL every daemon of the fleet shares. */
  database: string;
  /** This daemon's name in the fleet; default the machine's hostname. */
  host: string;
  /** A singleton's lease lasts this long unless renewed; also how old a host's rows may get before it shows as unreachable. */
  leaseTtlMs: number;
  /** Schema holding the fleet's tables and leases, so several fleets can share one database. Default 'bosun'. */
  schema: string;
}

export type Placement = 'singleton';

export const DEFAULT_LEASE_TTL_MS = 15_000;
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const SCHEMA = /^[A-Za-z_][A-Za-z0-9_]{0,50}$/;

/**
 * The timing a lease gives a singleton: the holder renews every ttl/3 (the queue's lease), and
 * when a renewal has not come through, it must have stopped the program `marginMs` before the
 * lease could expire; stopping takes up to killTimeout. So a holder begins to stop its program at
 * `heldUntil - marginMs - killTimeout`, and that must come after the next renewal is due:
 * killTimeout < ttl - ttl/3 - marginMs. The margin covers a late timer in the watchdog on a
 * loaded machine and the kill itself; the standby hosts start only after the expiry.
 */
export function leaseTiming(ttlMs: number): { renewMs: number; marginMs: number; maxKillTimeoutMs: number } {
  const renewMs = ttlMs / 3;
  const marginMs = Math.max(100, Math.round(ttlMs / 10));
  return { renewMs, marginMs, maxKillTimeoutMs: Math.floor(ttlMs - renewMs - marginMs) };
}

/** Validates `raw.fleet`; undefined when absent or invalid (each problem recorded at its path). */
export function fleetSettings(raw: unknown, v: Validator, problems: string[]): FleetSettings | undefined {
  if (raw === undefined) return undefined;
  if (!v.object(raw, 'fleet')) return undefined;
  const f = raw as Record<string, unknown>;
  v.keys(f, 'fleet', ['database', 'host', 'leaseTtl', 'schema']);
  const before = problems.length;
  let database = '';
  if (f.database === undefined) problems.push('fleet.database: required (the PostgreSQL URL every daemon of the fleet shares)');
  else {
    const url = v.string(f.database, 'fleet.database');
    if (url !== undefined) {
      const problem = databaseProblem(url);
      if (problem === undefined) database = url;
      else problems.push(`fleet.database: ${problem}`);
    }
  }
  let host = hostname();
  if (f.host !== undefined) {
    const h = v.string(f.host, 'fleet.host');
    if (h !== undefined && !HOST_NAME.test(h))
      problems.push(`fleet.host: a host name may hold letters, digits, '_', '-' and '.' (up to 63), got ${show(h)}`);
    else if (h !== undefined) host = h;
  }
  const leaseTtlMs =
    f.leaseTtl === undefined ? DEFAULT_LEASE_TTL_MS : (v.duration(f.leaseTtl, 'fleet.leaseTtl', 300) ?? DEFAULT_LEASE_TTL_MS);
  let schema = 'bosun';
  if (f.schema !== undefined) {
    const s = v.string(f.schema, 'fleet.schema');
    if (s !== undefined && !SCHEMA.test(s)) problems.push(`fleet.schema: expected a plain identifier (letters, digits, _), got ${show(s)}`);
    else if (s !== undefined) schema = s;
  }
  return problems.length > before ? undefined : { database, host, leaseTtlMs, schema };
}

/** Why `url` cannot be a fleet's database, or undefined when it can. */
function databaseProblem(url: string): string | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    try {
      new URL(url);
      return undefined;
    } catch {
      return `not a valid URL: ${show(redact(url))}`;
    }
  }
  if (
    scheme === undefined ||
    scheme === 'file' ||
    scheme === 'pglite' ||
    scheme === 'memory' ||
    scheme === 'idb' ||
    scheme === 'opfs-ahp'
  ) {
    return (
      `${show(redact(url))} is a PGlite database: PGlite is embedded in one process and cannot be shared, ` +
      'so the hosts of a fleet cannot meet there; give a PostgreSQL URL (postgres://user@host:5432/db)'
    );
  }
  return `expected a PostgreSQL URL (postgres:// or postgresql://), got ${show(redact(url))}`;
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/, '$1:***@');
}

/**
 * Validates a program's `placement` (`raw`) against the rest of its config and the fleet:
 * a singleton needs `fleet`, runs one instance, and its killTimeout must fit in the lease.
 */
export function placementOf(
  raw: unknown,
  path: string,
  program: { instances: number; killTimeoutMs: number; rolling?: boolean },
  fleet: FleetSettings | undefined,
  fleetGiven: boolean,
  v: Validator,
  problems: string[],
): Placement | undefined {
  if (raw === undefined) return undefined;
  const placement = v.oneOf(raw, `${path}.placement`, ['singleton']) as Placement | undefined;
  if (placement === undefined) return undefined;
  if (!fleetGiven) {
    problems.push(`${path}.placement: singleton needs a fleet: set fleet.database to the PostgreSQL the hosts share`);
    return placement;
  }
  if (program.instances !== 1)
    problems.push(`${path}.instances: a singleton runs one instance on one host of the fleet, got ${program.instances}`);
  if (program.rolling === true)
    problems.push(`${path}.rolling: a singleton cannot roll: its replacement would run beside it (it is restarted instead)`);
  if (fleet !== undefined) {
    const t = leaseTiming(fleet.leaseTtlMs);
    if (program.killTimeoutMs > t.maxKillTimeoutMs) {
      problems.push(
        `fleet.leaseTtl: ${fleet.leaseTtlMs}ms cannot fence ${path} (killTimeout ${program.killTimeoutMs}ms): a holder that cannot renew must have stopped it before the lease expires, ` +
          `so leaseTtl must exceed the renew interval (leaseTtl/3 = ${Math.round(t.renewMs)}ms) + killTimeout + a margin (leaseTtl/10, at least 100ms: ${t.marginMs}ms); ` +
          `lower ${path}.killTimeout to at most ${Math.max(0, t.maxKillTimeoutMs)}ms or raise fleet.leaseTtl to at least ${minTtlFor(program.killTimeoutMs)}ms`,
      );
    }
  }
  return placement;
}

/** The shortest lease that fences a program stopping within `killTimeoutMs`. */
function minTtlFor(killTimeoutMs: number): number {
  let ttl = Math.max(300, Math.ceil(killTimeoutMs * 1.5));
  while (leaseTiming(ttl).maxKillTimeoutMs < killTimeoutMs) ttl += 10;
  return ttl;
}
