// What a daemon tells its fence (the singleton watchdog, fence-process.ts) over the fence's
// stdin, one JSON object a line, and the clock both read. Times are CLOCK_MONOTONIC
// milliseconds, the same in every process of the machine and blind to wall-clock steps, so a
// deadline written by the daemon means the same instant to the fence.

/** Holds (or renews) one singleton tenure: its tree must be gone by `goneBy`. */
export interface HoldMessage {
  t: 'hold';
  /** The tenure's id within this daemon (`name[index]#n`). */
  id: string;
  /** The program's pid once spawned; null while spawning (the marker finds it then). */
  pid: number | null;
  /** Value of BOSUN_FENCE in the program's environment: finds the tree when nothing else does. */
  marker: string;
  killSignal: string;
  /** How long the program gets between killSignal and SIGKILL. */
  killTimeoutMs: number;
  /** Monotonic ms by which every process of the tenure must be gone (SIGKILL sent). */
  goneBy: number;
}

/** The tenure ended under the daemon's eye: forget it. */
export interface ReleaseMessage {
  t: 'release';
  id: string;
}

export type FenceMessage = HoldMessage | ReleaseMessage;

/** The environment variable a singleton's processes carry for the fence to find them by. */
export const FENCE_ENV = 'BOSUN_FENCE';

/** CLOCK_MONOTONIC in milliseconds (what process.hrtime reads), comparable across processes. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
