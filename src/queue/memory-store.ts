// memoryStore(): the queue in this process's memory, for tests and for work that need not
// survive a restart. Same semantics as the SQL stores; every time comes from the queue's
// clock, so a TestClock drives delays, backoff and leases without sleeping.

import { systemClock, type Clock } from '../core/index.js';
import {
  emptyStateCounts,
  type Claim,
  type Counts,
  type Job,
  type JobState,
  type NewJob,
  type Store,
} from './types.js';

interface Row {
  job: Job;
  seq: number;
  token: string | null;
  lockedUntil: number;
}

const clone = (job: Job): Job => ({
  ...job,
  payload: job.payload === null || typeof job.payload !== 'object' ? job.payload : structuredClone(job.payload),
  runAt: new Date(job.runAt),
  createdAt: new Date(job.createdAt),
  ...(job.finishedAt ? { finishedAt: new Date(job.finishedAt) } : {}),
});

class MemoryStore implements Store {
  readonly name = 'memory';
  #clock: Clock = systemClock;
  #seq = 0;
  readonly #rows = new Map<string, Row>();
  readonly #keys = new Map<string, Row>();
  readonly #leases = new Map<string, { holder: string; expires: number }>();
  readonly #wakers = new Set<(kind: string) => void>();

  async open(ctx: { clock: Clock }): Promise<void> {
    this.#clock = ctx.clock;
  }

  async close(): Promise<void> {
    this.#wakers.clear();
  }

  #now(): number {
    return this.#clock.now();
  }

  #wake(kind: string): void {
    for (const w of this.#wakers) w(kind);
  }

  #live(row: Row | undefined): row is Row {
    return row !== undefined && (row.job.state === 'pending' || row.job.state === 'running');
  }

  async add(jobs: NewJob[]): Promise<Job[]> {
    const now = this.#now();
    const out: Job[] = [];
    const kinds = new Set<string>();
    for (const n of jobs) {
      if (n.key !== null) {
        const existing = this.#keys.get(n.key);
        if (this.#live(existing)) {
          out.push(clone(existing.job));
          continue;
        }
      }
      const seq = ++this.#seq;
      const job: Job = {
        id: String(seq),
        kind: n.kind,
        payload: JSON.parse(n.payloadJson) as unknown,
        state: 'pending',
        attempts: 0,
        maxAttempts: n.maxAttempts,
        priority: n.priority,
        runAt: new Date(n.runAtMs ?? now + n.delayMs),
        createdAt: new Date(now),
        ...(n.key !== null ? { key: n.key } : {}),
      };
      const row: Row = { job, seq, token: null, lockedUntil: 0 };
      this.#rows.set(job.id, row);
      if (n.key !== null) this.#keys.set(n.key, row);
      kinds.add(n.kind);
      out.push(clone(job));
    }
    for (const k of kinds) this.#wake(k);
    return out;
  }

  async claim(kind: string, n: number, leaseMs: number, token: string): Promise<Claim[]> {
    const now = this.#now();
    const due: Row[] = [];
    for (const row of this.#rows.values()) {
      if (row.job.kind === kind && row.job.state === 'pending' && row.job.runAt.getTime() <= now) due.push(row);
    }
    due.sort((a, b) => b.job.priority - a.job.priority || a.job.runAt.getTime() - b.job.runAt.getTime() || a.seq - b.seq);
    return due.slice(0, n).map((row) => {
      row.job.state = 'running';
      row.job.attempts++;
      row.token = token;
      row.lockedUntil = now + leaseMs;
      return { job: clone(row.job), waitMs: now - row.job.runAt.getTime() };
    });
  }

  #held(job: Job, token: string): Row | undefined {
    const row = this.#rows.get(job.id);
    if (row && row.job.state === 'running' && row.token === token && row.job.attempts === job.attempts) return row;
    return undefined;
  }

  async renew(ids: string[], leaseMs: number, token: string): Promise<Set<string>> {
    const held = new Set<string>();
    const now = this.#now();
    for (const id of ids) {
      const row = this.#rows.get(id);
      if (row && row.job.state === 'running' && row.token === token) {
        row.lockedUntil = now + leaseMs;
        held.add(id);
      }
    }
    return held;
  }

  #finish(row: Row, state: JobState): void {
    row.job.state = state;
    row.token = null;
    row.job.finishedAt = new Date(this.#now());
  }

  async complete(job: Job, token: string): Promise<boolean> {
    const row = this.#held(job, token);
    if (!row) return false;
    this.#finish(row, 'done');
    return true;
  }

  async completeMany(jobs: Job[], token: string): Promise<Set<string>> {
    const done = new Set<string>();
    for (const job of jobs) if (await this.complete(job, token)) done.add(job.id);
    return done;
  }

  async fail(job: Job, token: string, error: string, retryInMs: number | null): Promise<boolean> {
    const row = this.#held(job, token);
    if (!row) return false;
    row.job.lastError = error;
    if (retryInMs === null) {
      this.#finish(row, 'failed');
    } else {
      row.job.state = 'pending';
      row.token = null;
      row.job.runAt = new Date(this.#now() + retryInMs);
    }
    return true;
  }

  async release(job: Job, token: string): Promise<boolean> {
    const row = this.#held(job, token);
    if (!row) return false;
    row.job.state = 'pending';
    row.job.attempts--;
    row.token = null;
    this.#wake(job.kind);
    return true;
  }

  async reap(kind: string): Promise<number> {
    const now = this.#now();
    let n = 0;
    for (const row of this.#rows.values()) {
      if (row.job.kind !== kind || row.job.state !== 'running' || row.lockedUntil >= now) continue;
      n++;
      row.job.lastError = 'lease expired: the consumer stopped renewing (crashed or stalled)';
      if (row.job.attempts >= row.job.maxAttempts) {
        this.#finish(row, 'failed');
      } else {
        row.job.state = 'pending';
        row.token = null;
      }
    }
    return n;
  }

  async nextDueInMs(kind: string): Promise<number | null> {
    let next: number | null = null;
    for (const row of this.#rows.values()) {
      if (row.job.kind === kind && row.job.state === 'pending') {
        const t = row.job.runAt.getTime();
        if (next === null || t < next) next = t;
      }
    }
    return next === null ? null : Math.max(0, next - this.#now());
  }

  async subscribe(wake: (kind: string) => void): Promise<() => Promise<void>> {
    this.#wakers.add(wake);
    return async () => {
      this.#wakers.delete(wake);
    };
  }

  async get(id: string): Promise<Job | null> {
    const row = this.#rows.get(id);
    return row ? clone(row.job) : null;
  }

  async counts(): Promise<Counts> {
    const total = emptyStateCounts();
    const byKind: Counts['byKind'] = {};
    for (const { job } of this.#rows.values()) {
      total[job.state]++;
      (byKind[job.kind] ??= emptyStateCounts())[job.state]++;
    }
    return { total, byKind };
  }

  async failed(kind: string | null, limit: number): Promise<Job[]> {
    const rows = [...this.#rows.values()].filter((r) => r.job.state === 'failed' && (kind === null || r.job.kind === kind));
    rows.sort((a, b) => (b.job.finishedAt?.getTime() ?? 0) - (a.job.finishedAt?.getTime() ?? 0) || b.seq - a.seq);
    return rows.slice(0, limit).map((r) => clone(r.job));
  }

  async retry(id: string): Promise<Job | null> {
    const row = this.#rows.get(id);
    if (!row) return null;
    if (row.job.state === 'failed' || row.job.state === 'cancelled') {
      if (row.job.key !== undefined && this.#live(this.#keys.get(row.job.key))) return clone(row.job);
      row.job.state = 'pending';
      row.job.attempts = 0;
      row.job.runAt = new Date(this.#now());
      delete row.job.finishedAt;
      if (row.job.key !== undefined) this.#keys.set(row.job.key, row);
      this.#wake(row.job.kind);
    }
    return clone(row.job);
  }

  async cancel(id: string): Promise<Job | null> {
    const row = this.#rows.get(id);
    if (!row) return null;
    if (row.job.state === 'pending' || row.job.state === 'running') this.#finish(row, 'cancelled');
    return clone(row.job);
  }

  async prune(olderThanMs: number, states: JobState[]): Promise<number> {
    const cutoff = this.#now() - olderThanMs;
    let n = 0;
    for (const [id, row] of this.#rows) {
      if (states.includes(row.job.state) && (row.job.finishedAt?.getTime() ?? Infinity) < cutoff) {
        this.#rows.delete(id);
        if (row.job.key !== undefined && this.#keys.get(row.job.key) === row) this.#keys.delete(row.job.key);
        n++;
      }
    }
    return n;
  }

  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const cur = this.#leases.get(name);
    if (cur === undefined || cur.holder === holder || cur.expires < now) {
      this.#leases.set(name, { holder, expires: now + ttlMs });
      return true;
    }
    return false;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    if (this.#leases.get(name)?.holder === holder) this.#leases.delete(name);
  }
}

/** A store in this process's memory: fast, lost on exit, shared by nothing else. */
export function memoryStore(): Store {
  return new MemoryStore();
}
