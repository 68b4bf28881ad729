// Once a second: memory (RSS) and CPU of every running instance's whole process tree, from one
// /proc scan shared by all instances, and the memoryLimit check. The history feeds sparklines.

import { readFileSync } from 'node:fs';
import type { Clock, TimerHandle } from '../core/clock.js';
import { listDescendants, listProcesses } from '../process/tree.js';
import type { Instance } from './instance.js';

const PAGE = 4096;
const TICK_MS = 10; // /proc times are in 1/100 s on mainstream Linux
const HISTORY = 60;

export class Sampler {
  readonly #lastTicks = new Map<Instance, { pid: number; ticks: number; at: number }>();
  #timer: TimerHandle | undefined;

  constructor(
    private readonly instances: () => Iterable<Instance>,
    private readonly clock: Clock,
    private readonly periodMs = 1000,
  ) {}

  start(): void {
    const tick = () => {
      try {
        this.sample();
      } finally {
        if (this.#timer !== undefined) this.#timer = this.clock.setTimeout(tick, this.periodMs);
      }
    };
    this.#timer = this.clock.setTimeout(tick, this.periodMs);
  }

  stop(): void {
    this.#timer?.clear();
    this.#timer = undefined;
  }

  /** One sample of every running instance. */
  sample(): void {
    const running = [...this.instances()].filter((i) => i.pid !== null);
    if (running.length === 0) return;
    const all = listProcesses();
    const now = this.clock.now();
    for (const inst of running) {
      const pid = inst.pid!;
      const self = all.find((p) => p.pid === pid);
      if (self === undefined) continue;
      const tree = [self, ...listDescendants(pid, all)];
      let rss = 0;
      let ticks = 0;
      for (const p of tree) {
        rss += rssOf(p.pid);
        ticks += p.cpuTicks;
      }
      const last = this.#lastTicks.get(inst);
      const cpu = last !== undefined && last.pid === pid && now > last.at ? Math.max(0, ((ticks - last.ticks) * TICK_MS * 100) / (now - last.at)) : 0;
      this.#lastTicks.set(inst, { pid, ticks, at: now });
      inst.memoryBytes = rss;
      inst.cpuPercent = Math.round(cpu * 10) / 10;
      inst.cpuHistory.push(inst.cpuPercent);
      if (inst.cpuHistory.length > HISTORY) inst.cpuHistory.shift();
      const limit = inst.config.memoryLimitBytes;
      if (limit !== undefined && rss > limit) inst.exceedMemory(rss);
    }
  }
}

function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ')[1]) * PAGE;
  } catch {
    return 0;
  }
}
