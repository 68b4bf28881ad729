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
  type ScheduleSpec,
  type Store,
  type StoredSchedule,
} from './types.js';

interface Row {
  job: Job;
  seq: number;
  token: string | null;
  lockedUntil: number;
  /** Claimed and its handler started (an attempt counted), not merely held ahead. */
  started: boolean;
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
  readonly #schedules = new Map<string, StoredSchedule>();

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
    const out = this.#add(jobs);
    for (const k of new Set(out.map((j) => j.kind))) this.#wake(k);
    return out;
  }

  #add(jobs: NewJob[]): Job[] {
    const now = this.#now();
    const out: Job[] = [];
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
        ...(n.queue !== null ? { queue: n.queue } : {}),
      };
      const row: Row = { job, seq, token: null, lockedUntil: 0, started: false };
      this.#rows.set(job.id, row);
      if (n.key !== null) this.#keys.set(n.key, row);
      out.push(clone(job));
    }
    return out;
  }

  async claim(
    kind: string,
    n: number,
    startN: number,
    leaseMs: number,
    token: string,
  ): Promise<{ claims: Claim[]; nextDueMs: number | null }> {
    const now = this.#now();
    // A named queue's job is claimable only while nothing of its queue runs and no live job
    // of its queue was added before it.
    const queues = new Map<string, { first: number; running: boolean }>();
    for (const row of this.#rows.values()) {
      const q = row.job.queue;
      if (q === undefined || !this.#live(row)) continue;
      const e = queues.get(q) ?? { first: Infinity, running: false };
      e.first = Math.min(e.first, row.seq);
      e.running ||= row.job.state === 'running';
      queues.set(q, e);
    }
    const free = (row: Row) => {
      if (row.job.queue === undefined) return true;
      const e = queues.get(row.job.queue)!;
      return !e.running && e.first === row.seq;
    };
    const due: Row[] = [];
    let next: number | null = null;
    for (const row of this.#rows.values()) {
      if (row.job.kind !== kind || row.job.state !== 'pending') continue;
      const t = row.job.runAt.getTime();
      if (t > now) next = next === null ? t : Math.min(next, t);
      else if (free(row)) due.push(row);
    }
    due.sort((a, b) => b.job.priority - a.job.priority || a.job.runAt.getTime() - b.job.runAt.getTime() || a.seq - b.seq);
    const claims = due.slice(0, n).map((row, i) => {
      row.job.state = 'running';
      row.started = i < startN;
      row.job.attempts++;
      row.token = token;
      row.lockedUntil = now + leaseMs;
      return { job: clone(row.job), waitMs: now - row.job.runAt.getTime() };
    });
    const nextDueMs = claims.length === n ? null : due.length > n ? 0 : next === null ? null : Math.max(0, next - now);
    return { claims, nextDueMs };
  }

  async start(jobs: Job[], token: string): Promise<Set<string>> {
    const started = new Set<string>();
    for (const job of jobs) {
      const row = this.#held(job, token);
      if (!row || row.started) continue;
      row.started = true;
      started.add(job.id);
    }
    return started;
  }

  /** A job of `queue` ended: wake the consumers of the kind of the queue's next job. */
  #queueFreed(queue: string | undefined): void {
    if (queue === undefined) return;
    let head: Row | undefined;
    for (const row of this.#rows.values()) {
      if (row.job.queue === queue && this.#live(row) && (head === undefined || row.seq < head.seq)) head = row;
    }
    if (head !== undefined) this.#wake(head.job.kind);
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
    row.started = false;
    row.job.finishedAt = new Date(this.#now());
    this.#queueFreed(row.job.queue);
  }

  async completeMany(jobs: Job[], token: string, start: Job[] = []): Promise<{ done: Set<string>; started: Set<string> }> {
    const done = new Set<string>();
    for (const job of jobs) {
      const row = this.#held(job, token);
      if (!row) continue;
      delete row.job.lastError;
      this.#finish(row, 'done');
      done.add(job.id);
    }
    return { done, started: await this.start(start, token) };
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
      row.started = false;
      row.job.runAt = new Date(this.#now() + retryInMs);
    }
    return true;
  }

  async release(job: Job, token: string): Promise<boolean> {
    const row = this.#held(job, token);
    if (!row) return false;
    row.job.state = 'pending';
    row.job.attempts--;
    row.started = false;
    row.token = null;
    this.#wake(job.kind);
    return true;
  }

  async reap(kind: string, liveTokens: string[]): Promise<number> {
    const now = this.#now();
    const live = new Set(liveTokens);
    let n = 0;
    for (const row of this.#rows.values()) {
      if (row.job.kind !== kind || row.job.state !== 'running' || row.lockedUntil >= now) continue;
      if (row.token !== null && live.has(row.token)) continue;
      n++;
      if (row.started) row.job.lastError = 'lease expired: the consumer stopped renewing (crashed or stalled)';
      else row.job.attempts--; // held ahead, never started: the attempt is given back
      if (row.started && row.job.attempts >= row.job.maxAttempts) {
        this.#finish(row, 'failed');
      } else {
        row.job.state = 'pending';
        row.token = null;
        row.started = false;
      }
    }
    return n;
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

  async putSchedule(spec: ScheduleSpec): Promise<void> {
    const old = this.#schedules.get(spec.name);
    this.#schedules.set(spec.name, { ...spec, lastTickMs: old?.lastTickMs ?? this.#now() });
  }

  async deleteSchedule(name: string): Promise<boolean> {
    return this.#schedules.delete(name);
  }

  async schedules(): Promise<{ list: StoredSchedule[]; nowMs: number }> {
    return { list: [...this.#schedules.values()].map((s) => ({ ...s })), nowMs: this.#now() };
  }

  async tick(name: string, fromTickMs: number, toTickMs: number, job: NewJob): Promise<boolean> {
    const s = this.#schedules.get(name);
    if (s === undefined || s.lastTickMs !== fromTickMs) return false;
    s.lastTickMs = toTickMs;
    await this.add([job]);
    return true;
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
