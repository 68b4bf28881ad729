// Memory (RSS) and CPU of every running instance's whole process tree, and the memoryLimit
// check. The sampler ticks every second only while something needs it: a program has a
// memoryLimit, or a live view (the dashboard) watches; `status` samples once when asked. An
// idle fleet with nobody watching allocates nothing, which keeps the daemon's resident memory
// down (a periodic allocation alone keeps V8's whole young generation resident, about 4 MB).
//
// Trees are read by process/tree.ts: only our own trees are walked (through the per-thread
// `children` lists) where the kernel has them, else one /proc scan serves every instance.

import type { Clock, TimerHandle } from '../core/clock.js';
import { canWalkChildren, listProcesses, treeUsage } from '../process/tree.js';

const TICK_MS = 10; // /proc times are in 1/100 s on mainstream Linux
/** CPU and memory samples kept per instance: ten minutes at one a second. */
export const HISTORY = 600;

/** What the sampler reads and writes for one instance: the fleet's record, seen through this. */
export interface Sampled {
  readonly pid: number | null;
  readonly startedAt: number;
  readonly memoryLimitBytes: number | undefined;
  memoryBytes: number;
  cpuPercent: number;
  /** Oldest first, at most HISTORY long: when each sample was taken (epoch ms), CPU %, RSS bytes. */
  readonly sampledAt: number[];
  readonly cpuHistory: number[];
  readonly memoryHistory: number[];
  /** Called when the tree's RSS passed memoryLimit. */
  overLimit(rssBytes: number): void;
}

export class Sampler {
  readonly #lastTicks = new Map<Sampled, { pid: number; ticks: number; at: number }>();
  #timer: TimerHandle | undefined;
  #lastSample = -Infinity;
  #closed = false;

  constructor(
    private readonly instances: () => Iterable<Sampled>,
    private readonly clock: Clock,
    /** True while something needs samples regardless of limits (e.g. dashboard viewers). */
    private readonly watched: () => boolean = () => false,
    private readonly periodMs = 1000,
  ) {}

  #needed(): boolean {
    if (this.#closed) return false;
    if (this.watched()) return true;
    for (const i of this.instances()) if (i.memoryLimitBytes !== undefined && i.pid !== null) return true;
    return false;
  }

  /** Starts ticking if anything needs it; call after instances start or the watchers change. */
  wake(): void {
    if (this.#timer !== undefined || !this.#needed()) return;
    const tick = () => {
      this.#timer = undefined;
      this.sample();
      if (this.#needed()) this.#timer = this.clock.setTimeout(tick, this.periodMs);
    };
    this.#timer = this.clock.setTimeout(tick, this.periodMs);
  }

  /**
   * Makes the figures current: memory is sampled now; CPU is the use since the previous sample
   * (the last second while ticking; otherwise the average since the last look, or since the
   * process started). Polling does not start the periodic tick, so an idle daemon stays idle.
   */
  fresh(): void {
    if (this.clock.now() - this.#lastSample > this.periodMs / 2) this.sample();
  }

  stop(): void {
    this.#closed = true;
    this.#timer?.clear();
    this.#timer = undefined;
  }

  /** One sample of every running instance. */
  sample(): void {
    this.#lastSample = this.clock.now();
    const running = [...this.instances()].filter((i) => i.pid !== null);
    if (running.length === 0) return;
    const all = canWalkChildren() ? undefined : listProcesses();
    const now = this.clock.now();
    for (const inst of running) {
      const pid = inst.pid!;
      const usage = treeUsage(pid, all);
      if (usage === undefined) continue;
      // Never sampled: the process started with no CPU time used, so average over its life.
      let last = this.#lastTicks.get(inst);
      if (last === undefined || last.pid !== pid) last = { pid, ticks: 0, at: inst.startedAt };
      const cpu = now > last.at ? Math.max(0, ((usage.cpuTicks - last.ticks) * TICK_MS * 100) / (now - last.at)) : 0;
      this.#lastTicks.set(inst, { pid, ticks: usage.cpuTicks, at: now });
      inst.memoryBytes = usage.rssBytes;
      inst.cpuPercent = Math.round(cpu * 10) / 10;
      push(inst.sampledAt, now);
      push(inst.cpuHistory, inst.cpuPercent);
      push(inst.memoryHistory, usage.rssBytes);
      const limit = inst.memoryLimitBytes;
      if (limit !== undefined && usage.rssBytes > limit) inst.overLimit(usage.rssBytes);
    }
    for (const inst of this.#lastTicks.keys()) if (inst.pid === null) this.#lastTicks.delete(inst);
  }
}

function push(history: number[], value: number): void {
  history.push(value);
  if (history.length > HISTORY) history.splice(0, history.length - HISTORY);
}
