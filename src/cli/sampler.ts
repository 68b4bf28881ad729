// Memory (RSS) and CPU of every running instance's whole process tree, and the memoryLimit
// check. The sampler ticks every second only while something needs it: a program has a
// memoryLimit, or the dashboard has a viewer; `status` samples once when asked. An idle daemon
// with nobody watching allocates nothing, which keeps its resident memory down (a periodic
// allocation alone keeps V8's whole young generation resident, about 4 MB).
//
// Trees are read by process/tree.ts: only our own trees are walked (through the per-thread
// `children` lists) where the kernel has them, else one /proc scan serves every instance.

import type { Clock, TimerHandle } from '../core/clock.js';
import { canWalkChildren, listProcesses, treeUsage } from '../process/tree.js';
import type { Instance } from './instance.js';

const TICK_MS = 10; // /proc times are in 1/100 s on mainstream Linux
const HISTORY = 60;

export class Sampler {
  readonly #lastTicks = new Map<Instance, { pid: number; ticks: number; at: number }>();
  #timer: TimerHandle | undefined;
  #lastSample = -Infinity;
  #closed = false;

  constructor(
    private readonly instances: () => Iterable<Instance>,
    private readonly clock: Clock,
    /** True while something needs samples regardless of demand (e.g. dashboard viewers). */
    private readonly watched: () => boolean = () => false,
    private readonly periodMs = 1000,
  ) {}

  #needed(): boolean {
    if (this.#closed) return false;
    if (this.watched()) return true;
    for (const i of this.instances()) if (i.config.memoryLimitBytes !== undefined && i.running) return true;
    return false;
  }

  /** Starts ticking if anything needs it; call after programs start or the watchers change. */
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
    // With /proc/<pid>/task/<tid>/children only our trees are read; otherwise one full scan.
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
      inst.cpuHistory.push(inst.cpuPercent);
      if (inst.cpuHistory.length > HISTORY) inst.cpuHistory.shift();
      const limit = inst.config.memoryLimitBytes;
      if (limit !== undefined && usage.rssBytes > limit) inst.exceedMemory(usage.rssBytes);
    }
    for (const inst of this.#lastTicks.keys()) if (inst.pid === null) this.#lastTicks.delete(inst);
  }
}

