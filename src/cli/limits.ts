// The daemon's bounds, in one place: what any client of the dashboard or the control socket can
// make it hold. Each bound turns a client that reads too slowly, sends too much or holds too many
// connections into a refusal for that client, never into memory or descriptors the programs need.
// docs/cli.md ("Threat model and bounds") says what each one protects.

import { readdirSync, readFileSync } from 'node:fs';

/** Bytes queued for one event-stream client beyond what the kernel took; past it the client is dropped. */
export const EVENT_STREAM_BUFFER_BYTES = 256 * 1024;
/** Event streams (`GET /api/events`) open at once; more are answered 503. */
export const EVENT_STREAM_CLIENTS = 16;
/** Dashboard connections open at once (the event streams included); more are closed on accept. */
export const DASHBOARD_CONNECTIONS = 64;
/** Bytes of request body the dashboard reads; no route takes a body, so more is answered 413. */
export const DASHBOARD_BODY_BYTES = 1024;
/** A dashboard request must arrive whole within this long (headers and body). */
export const DASHBOARD_REQUEST_MS = 10_000;
/** One control-socket request, newline excluded; a longer one is answered ERR_TOO_LARGE. */
export const CONTROL_MESSAGE_BYTES = 64 * 1024;
/** A control connection that has not sent its whole request within this long is closed. */
export const CONTROL_IDLE_MS = 10_000;
/** Control connections at once; a new one beyond it closes the oldest idle one (or gets ERR_BUSY). */
export const CONTROL_CONNECTIONS = 32;
/**
 * Descriptors the daemon keeps free for its programs: a respawn takes about eight for a moment
 * (three stdio pipes, the exec-error pipe, the log file), and a group restart respawns several
 * instances at once. Clients are refused before the free count falls below this, or below a
 * quarter of the limit when that is smaller (under a tiny `ulimit -n` a client must still get in).
 */
export const DESCRIPTOR_RESERVE = 64;

let softLimit: number | undefined;

/** The soft RLIMIT_NOFILE of this process (read once from /proc/self/limits); Infinity if unknown. */
export function descriptorLimit(): number {
  if (softLimit !== undefined) return softLimit;
  try {
    const m = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    softLimit = m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    softLimit = Infinity;
  }
  return softLimit;
}

/** Descriptors this process may still open. 0 when even listing them fails (which takes one). */
export function descriptorsFree(): number {
  const limit = descriptorLimit();
  if (limit === Infinity) return Infinity;
  try {
    // The listing's own descriptor is in the count and is closed again: that slack is harmless.
    return limit - readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** Descriptors kept free: DESCRIPTOR_RESERVE, or a quarter of the limit if that is less. */
export function descriptorReserve(): number {
  return Math.min(DESCRIPTOR_RESERVE, Math.floor(descriptorLimit() / 4));
}

/** True while accepting one more client connection keeps descriptorReserve() free. */
export function roomForClient(): boolean {
  return descriptorsFree() > descriptorReserve();
}
