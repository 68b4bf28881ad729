// Heartbeat files of the fleet tests and bench/fleet: lines `<host> <monotonic ms> <pid>`
// written by test/cli/fixtures/beat.ts, read back as tenures (one program process on one host,
// from its first heartbeat to its last), oldest first.

import { existsSync, readFileSync } from 'node:fs';

export interface Tenure {
  host: string;
  pid: string;
  from: number;
  to: number;
}

export function tenures(file: string): Tenure[] {
  if (!existsSync(file)) return [];
  const byRun = new Map<string, Tenure>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [host, t, pid] = line.split(' ');
    if (host === undefined || t === undefined || pid === undefined || host === '') continue;
    const at = Number(t);
    const key = `${host} ${pid}`;
    const run = byRun.get(key);
    if (run === undefined) byRun.set(key, { host, pid, from: at, to: at });
    else {
      run.from = Math.min(run.from, at);
      run.to = Math.max(run.to, at);
    }
  }
  return [...byRun.values()].sort((a, b) => a.from - b.from);
}
