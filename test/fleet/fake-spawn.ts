// Fake children for driving a Fleet's whole policy on a TestClock: `spawn` hands out objects
// with a ChildProcess's shape (pid above the kernel's pid_max, so signals sent to real pids or
// groups reach nothing), whose output and exit the test scripts. A fake that is signalled
// exits at once by that signal unless the test gave it a handler.

import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { SpawnFn } from '../../src/process/monitor.js';

/** Above Linux's largest pid_max (2^22): no real process has it. */
let nextPid = 5_000_000;

export class FakeChild extends EventEmitter {
  readonly pid: number | undefined;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly connected = false;
  readonly signals: string[] = [];
  exited = false;
  /** What a signal does; default: exit by it. */
  onSignal: ((signal: string) => void) | undefined;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly env: NodeJS.ProcessEnv,
    spawnError: NodeJS.ErrnoException | undefined,
  ) {
    super();
    if (spawnError !== undefined) {
      this.pid = undefined;
      process.nextTick(() => {
        this.stdout.end();
        this.stderr.end();
        this.emit('error', spawnError);
      });
      return;
    }
    this.pid = nextPid++;
  }

  get program(): string {
    return this.env['BOSUN_PROGRAM'] ?? '';
  }

  get instance(): number {
    return Number(this.env['BOSUN_INSTANCE']);
  }

  print(line: string): void {
    if (!this.exited) this.stdout.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exited) return false;
    const name = String(signal);
    this.signals.push(name);
    if (this.onSignal !== undefined) this.onSignal(name);
    else this.exit(null, name);
    return true;
  }

  /** Ends the fake: its streams close, then 'exit' as a real child's would. */
  exit(code: number | null, signal: string | null = null): void {
    if (this.exited) return;
    this.exited = true;
    this.stdout.end();
    this.stderr.end();
    setImmediate(() => this.emit('exit', code, signal));
  }

  send(): boolean {
    return false;
  }
}

export class FakeSpawner {
  readonly children: FakeChild[] = [];
  /** Called with each new child, e.g. to make it print its readiness line. */
  onSpawn: ((child: FakeChild) => void) | undefined;
  /** Commands that cannot be spawned (ENOENT). */
  readonly missing = new Set<string>();

  readonly spawn: SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => {
    const err = this.missing.has(command) ? Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' }) : undefined;
    const child = new FakeChild(command, args, options.env ?? {}, err);
    this.children.push(child);
    if (err === undefined) this.onSpawn?.(child);
    return child as unknown as ChildProcess;
  };

  /** Children of `program` (instance `index`, if given) that have not exited. */
  live(program?: string, index?: number): FakeChild[] {
    return this.children.filter(
      (c) =>
        !c.exited &&
        c.pid !== undefined &&
        (program === undefined || c.program === program) &&
        (index === undefined || c.instance === index),
    );
  }

  /** The one live child of `program[index]`; throws when there is not exactly one. */
  one(program: string, index = 0): FakeChild {
    const live = this.live(program, index);
    if (live.length !== 1) throw new Error(`expected one live ${program}[${index}], found ${live.length}`);
    return live[0]!;
  }
}
