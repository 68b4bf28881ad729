// Memory (RSS) and CPU of every running instance's whole process tree, and the memoryLimit
// check. The sampler ticks every second only while something needs it: a program has a
// memoryLimit, or the dashboard has a viewer; `status` samples once when asked. An idle daemon
// with nobody watching allocates nothing, which keeps its resident memory down (a periodic
// allocation alone keeps V8's whole young generation resident, about 4 MB).
//
// /proc is read through one reused buffer rather than readFileSync (which allocates 64 KB for
// every file of unknown size), and only our own trees are walked (through the per-thread
// `children` lists) instead of scanning every process on the machine.

import { closeSync, existsSync, openSync, readSync, readdirSync } from 'node:fs';
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
    const all = hasChildrenFiles() ? undefined : scan();
    const byParent = all === undefined ? undefined : parentIndex(all);
    const now = this.clock.now();
    for (const inst of running) {
      const pid = inst.pid!;
      const usage = all === undefined ? walkTree(pid) : scannedTree(pid, all, byParent!);
      if (usage === undefined) continue;
      // Never sampled: the process started with no CPU time used, so average over its life.
      let last = this.#lastTicks.get(inst);
      if (last === undefined || last.pid !== pid) last = { pid, ticks: 0, at: inst.startedAt };
      const cpu = now > last.at ? Math.max(0, ((usage.ticks - last.ticks) * TICK_MS * 100) / (now - last.at)) : 0;
      this.#lastTicks.set(inst, { pid, ticks: usage.ticks, at: now });
      inst.memoryBytes = usage.rss;
      inst.cpuPercent = Math.round(cpu * 10) / 10;
      inst.cpuHistory.push(inst.cpuPercent);
      if (inst.cpuHistory.length > HISTORY) inst.cpuHistory.shift();
      const limit = inst.config.memoryLimitBytes;
      if (limit !== undefined && usage.rss > limit) inst.exceedMemory(usage.rss);
    }
    for (const inst of this.#lastTicks.keys()) if (inst.pid === null) this.#lastTicks.delete(inst);
  }
}

interface Usage {
  rss: number;
  ticks: number;
}

/** CPU ticks of a /proc/<pid>/stat line, or undefined for a zombie or a vanished process. */
function statTicks(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const state = text.charCodeAt(close + 2);
  if (state === 90 /* Z */ || state === 88 /* X */) return undefined;
  // utime and stime are the 12th and 13th fields after the state; skip spaces instead of splitting.
  let i = close + 2;
  for (let field = 0; field < 12; field++) i = text.indexOf(' ', i) + 1;
  const j = text.indexOf(' ', i);
  const k = text.indexOf(' ', j + 1);
  return Number(text.slice(i, j)) + Number(text.slice(j + 1, k));
}

/** Usage of `pid` and its descendants, following the children lists of every thread. */
function walkTree(root: number): Usage | undefined {
  const rootTicks = statTicks(readProc(`/proc/${root}/stat`));
  if (rootTicks === undefined) return undefined;
  const usage = { rss: rssOf(root), ticks: rootTicks };
  const stack = [root];
  const seen = new Set<number>(stack);
  while (stack.length > 0) {
    const pid = stack.pop()!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      const list = readProc(`/proc/${pid}/task/${tid}/children`);
      let from = 0;
      while (from < list.length) {
        let to = list.indexOf(' ', from);
        if (to < 0) to = list.length;
        const child = Number(list.slice(from, to));
        from = to + 1;
        if (!(child > 0) || seen.has(child)) continue;
        seen.add(child);
        const ticks = statTicks(readProc(`/proc/${child}/stat`));
        if (ticks === undefined) continue;
        usage.ticks += ticks;
        usage.rss += rssOf(child);
        stack.push(child);
      }
    }
  }
  return usage;
}

let childrenFiles: boolean | undefined;
const hasChildrenFiles = () => (childrenFiles ??= existsSync(`/proc/${process.pid}/task/${process.pid}/children`));

function parentIndex(all: Map<number, Proc>): Map<number, Proc[]> {
  const byParent = new Map<number, Proc[]>();
  for (const p of all.values()) {
    let list = byParent.get(p.ppid);
    if (list === undefined) byParent.set(p.ppid, (list = []));
    list.push(p);
  }
  return byParent;
}

function scannedTree(pid: number, all: Map<number, Proc>, byParent: Map<number, Proc[]>): Usage | undefined {
  const self = all.get(pid);
  if (self === undefined) return undefined;
  const usage = { rss: 0, ticks: 0 };
  for (const p of treeOf(self, all, byParent)) {
    usage.rss += rssOf(p.pid);
    usage.ticks += p.ticks;
  }
  return usage;
}

// One buffer for every read; 64 KB holds any stat or statm and the children list of a busy parent.
const buf = Buffer.alloc(64 * 1024);

/** The start of a /proc file (see `buf`), or '' when it is gone. */
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
