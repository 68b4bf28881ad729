// The fence (the singleton watchdog) with real processes: a feeder plays the daemon, holds a
// program tree with a deadline and is then SIGKILLed or SIGSTOPped; the watchdog alone must
// stop the whole tree (a member that escaped into its own session included) by the deadline,
// SIGKILL what ignores SIGTERM, and exit once nothing is left to guard.
//
// The feeder renews every 200 ms until it is killed, so a tree that boots slowly on a loaded
// machine is not fenced before the test saw it start.
// Margins: the deadline is `goneBy`; the design keeps a margin (leaseTtl/10, here the 400 ms
// below) between goneBy and the lease's expiry, and that margin is what the checks allow for a
// late timer and for our own polling on a loaded machine. Nothing is asserted to happen early.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { monotonicMs } from '../../src/fleet/fence-protocol.js';
import { isAlive, procInfo, signalQuietly } from '../../src/process/tree.js';
import { until } from '../support.js';

const FEEDER = fileURLToPath(new URL('./fixtures/feeder.js', import.meta.url));
const MARGIN_MS = 400;
const dirs: string[] = [];
/** Processes this file started, with their start time: pids wrap quickly on a busy machine, so only one still ours is ever signalled. */
const started: { pid: number; startTime: number }[] = [];
function track(pid: number): void {
  const info = procInfo(pid);
  if (info !== undefined) started.push({ pid, startTime: info.startTime });
}
after(() => {
  for (const p of started) if (isAlive(p.pid, p.startTime)) signalQuietly(p.pid, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Fed {
  dir: string;
  feeder: ChildProcess;
  out: string[];
  fence: number;
  program: number;
  /** The pids of the tree's three members, once each has written its pid file. */
  tree(): Promise<{ root: number; child: number; escaped: number }>;
  lastGoneBy(): number;
}

async function feed(lead: number, renew: number, killMs: number, ...flags: string[]): Promise<Fed> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-fence-'));
  dirs.push(dir);
  const feeder = spawn(process.execPath, [FEEDER, dir, String(lead), String(renew), String(killMs), ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track(feeder.pid!);
  const out: string[] = [];
  let buf = '';
  feeder.stdout!.setEncoding('utf8');
  feeder.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    out.push(...lines);
  });
  const value = (key: string) => Number(out.find((l) => l.startsWith(`${key} `))?.split(' ')[1]);
  await until(() => !Number.isNaN(value('fence')) && !Number.isNaN(value('program')), 'the feeder to start its fence and program', 20_000);
  const fence = value('fence');
  track(fence);
  const read = (role: string) =>
    existsSync(join(dir, `${role}.pid`)) ? Number(readFileSync(join(dir, `${role}.pid`), 'utf8')) : undefined;
  const tree = async () => {
    await until(() => ['root', 'child', 'escaped'].every((r) => read(r) !== undefined), 'the tree to start', 20_000);
    const t = { root: read('root')!, child: read('child')!, escaped: read('escaped')! };
    for (const pid of [t.root, t.child, t.escaped]) track(pid);
    return t;
  };
  const lastGoneBy = () => Math.max(...out.filter((l) => l.startsWith('goneBy ')).map((l) => Number(l.split(' ')[1])));
  return { dir, feeder, out, fence, program: value('program'), tree, lastGoneBy };
}

/** Polls until every pid is gone; returns the monotonic time it saw the last one go. */
async function goneAt(list: number[], timeoutMs: number): Promise<number> {
  await until(() => list.every((p) => !isAlive(p)), `pids ${list.join(', ')} to be gone`, timeoutMs, 5);
  return monotonicMs();
}

describe('fence: the singleton watchdog (real processes)', () => {
  test('after the daemon is SIGKILLed it stops the whole tree by the deadline, its own session included, then exits', async () => {
    const f = await feed(1500, 200, 300);
    const t = await f.tree();
    f.feeder.kill('SIGKILL');
    await until(() => f.feeder.exitCode !== null || f.feeder.signalCode !== null, 'the feeder to die');
    const deadline = f.lastGoneBy();
    const gone = await goneAt([t.root, t.child, t.escaped], 10_000);
    // The program outlives its daemon while the lease is valid: seen gone no earlier than the
    // stop time (seeing comes after dying, so this cannot pass for an early kill), and by the deadline.
    assert.ok(gone >= deadline - 300 - 2, `stopped ${deadline - 300 - gone}ms before its stop time`);
    assert.ok(gone <= deadline + MARGIN_MS, `gone ${gone - deadline}ms after the deadline`);
    await until(() => !isAlive(f.fence), 'the fence to exit once nothing is left to guard', 5000);
  });

  test('a daemon frozen by SIGSTOP cannot renew: the tree is stopped by the deadline; the fence stays while the daemon lives', async () => {
    const f = await feed(1500, 200, 300);
    const t = await f.tree();
    f.feeder.kill('SIGSTOP');
    try {
      const deadline = f.lastGoneBy();
      const gone = await goneAt([t.root, t.child, t.escaped], 10_000);
      assert.ok(gone <= deadline + MARGIN_MS, `gone ${gone - deadline}ms after the deadline`);
      assert.ok(isAlive(f.fence), 'the fence keeps watching for its (frozen, not dead) daemon');
    } finally {
      f.feeder.kill('SIGCONT');
      f.feeder.kill('SIGKILL');
    }
    await until(() => !isAlive(f.fence), 'the fence to exit after its daemon died', 5000);
  });

  test('what ignores SIGTERM gets SIGKILL at the deadline, killTimeout after SIGTERM', async () => {
    // SIGTERM 1.5 s before the deadline: time enough for each member to note it on a loaded machine.
    const f = await feed(2500, 200, 1500, 'stubborn');
    const t = await f.tree();
    f.feeder.kill('SIGKILL');
    const deadline = f.lastGoneBy();
    const gone = await goneAt([t.root, t.child, t.escaped], 10_000);
    assert.ok(existsSync(join(f.dir, 'root.term')) && existsSync(join(f.dir, 'escaped.term')), 'SIGTERM came first');
    assert.ok(gone <= deadline + MARGIN_MS, `gone ${gone - deadline}ms after the deadline`);
  });

  test('without the pid (the daemon froze right after the spawn) the marker alone finds the tree', async () => {
    const f = await feed(1200, 200, 300, 'nopid');
    const t = await f.tree();
    f.feeder.kill('SIGKILL');
    const deadline = f.lastGoneBy();
    const gone = await goneAt([t.root, t.child, t.escaped], 10_000);
    assert.ok(gone <= deadline + MARGIN_MS, `gone ${gone - deadline}ms after the deadline`);
  });

  test('renewals keep the program running; a release and a clean close leave it alone and the fence exits', async () => {
    // Each renewal moves the deadline 800 ms ahead, three renewals 400 ms apart, then release.
    const f = await feed(800, 400, 300, 'release');
    const t = await f.tree();
    await until(() => f.out.includes('closed'), 'the feeder to release and close its fence', 20_000);
    await until(() => !isAlive(f.fence), 'the fence to exit', 5000);
    assert.ok(
      isAlive(t.root) && isAlive(t.child) && isAlive(t.escaped),
      'nothing was fenced: the deadlines kept moving, then it was released',
    );
    for (const p of [t.root, t.child, t.escaped]) process.kill(p, 'SIGKILL');
  });

  test('a fence asked to stop (SIGTERM) stops what it guards at once, then exits', async () => {
    const f = await feed(60_000, 0, 300);
    const t = await f.tree();
    process.kill(f.fence, 'SIGTERM');
    await goneAt([t.root, t.child, t.escaped], 10_000);
    f.feeder.kill('SIGKILL');
    await until(() => !isAlive(f.fence), 'the fence to exit', 5000);
  });
});
