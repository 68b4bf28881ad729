// Once a second: memory (RSS) and CPU of every running instance's whole process tree, from one
// /proc scan shared by all instances, and the memoryLimit check. The history feeds sparklines.
//
// /proc is read through one reused buffer rather than readFileSync (which allocates 64 KB for
// every file of unknown size): a scan touches every process on the machine each second, and
// that garbage alone kept several MB of the idle daemon's memory resident.

import { closeSync, openSync, readSync, readdirSync } from 'node:fs';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Instance } from './instance.js';

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  ticks: number;
}

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
    const all = scan();
    const byParent = new Map<number, Proc[]>();
    for (const p of all.values()) {
      let list = byParent.get(p.ppid);
      if (list === undefined) byParent.set(p.ppid, (list = []));
      list.push(p);
    }
    const now = this.clock.now();
    for (const inst of running) {
      const pid = inst.pid!;
      const self = all.get(pid);
      if (self === undefined) continue;
      const tree = treeOf(self, all, byParent);
      let rss = 0;
      let ticks = 0;
      for (const p of tree) {
        rss += rssOf(p.pid);
        ticks += p.ticks;
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

const buf = Buffer.alloc(4096);

/** The start of a /proc file (4 KB is plenty for stat and statm), or '' when it is gone. */
function readProc(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    return buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return '';
  } finally {
    closeSync(fd);
  }
}

function scan(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const text = readProc(`/proc/${name}/stat`);
    const close = text.lastIndexOf(')');
    if (close < 0) continue;
    // Fields after the command name: state ppid pgrp ... utime(14) stime(15).
    const f = text.slice(close + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') continue;
    out.set(Number(name), { pid: Number(name), ppid: Number(f[1]), pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) });
  }
  return out;
}

/** `root` and its descendants: by parent links, and members of its process group that were reparented. */
function treeOf(root: Proc, all: Map<number, Proc>, byParent: Map<number, Proc[]>): Proc[] {
  const seen = new Set<number>([root.pid]);
  const out = [root];
  for (const p of all.values()) {
    if (p.pgrp === root.pid && !seen.has(p.pid)) {
      seen.add(p.pid);
      out.push(p);
    }
  }
  for (let i = 0; i < out.length; i++) {
    for (const child of byParent.get(out[i]!.pid) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      out.push(child);
    }
  }
  return out;
}

function rssOf(pid: number): number {
  return Number(readProc(`/proc/${pid}/statm`).split(' ')[1] ?? 0) * PAGE;
}
