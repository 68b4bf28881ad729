// bench/respawn: time from a child's crash to its replacement's first line of output, under a
// Supervisor restarting a monitorProcess at once (backoff initialMs 0), as a ratio to a bare
// child_process.spawn of the same script to its first line. PM2 measured 1.56-1.65 here.
// Run: node build/bench/respawn/index.js   (nothing is asserted)

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Supervisor } from '../../src/core/index.js';
import { monitorProcess } from '../../src/process/index.js';
import { percentile } from '../harness.js';

const script = fileURLToPath(new URL('./script.js', import.meta.url));
const ROUNDS = Number(process.env.BENCH_RESPAWN_ROUNDS ?? 30);
const wall = () => performance.timeOrigin + performance.now();

// `detached` is how every supervisor here spawns (its own session and process group, so the
// whole tree can be signalled); on this machine that alone makes a node boot ~5% slower.
function bareSpawnToFirstLine(detached = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = wall();
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'], detached });
    child.once('error', reject);
    child.stdout.once('data', () => {
      resolve(wall() - t0);
      child.kill('SIGKILL');
    });
  });
}

// Where the respawn time goes: the dying child's own teardown until it is reaped (exit), the
// supervisor's restart (reaped -> new spawn), and the new child's boot to its first line.
const phases = { exit: [] as number[], restart: [] as number[], boot: [] as number[] };

async function supervisedRespawns(rounds: number): Promise<number[]> {
  const samples: number[] = [];
  let crashAt: number | undefined;
  let exitedAt: number | undefined;
  let startedAt: number | undefined;
  let done: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sup = new Supervisor({
    intensity: Infinity,
    backoff: { initialMs: 0, factor: 1, maxMs: 0, jitter: 0, resetAfterMs: 0 },
    children: [
      {
        id: 'crasher',
        start: () =>
          monitorProcess({
            command: process.execPath,
            args: [script],
            env: { ...process.env, CRASH_AFTER_MS: '20' },
            onLine: (_stream, line) => {
              const now = wall();
              if (line === 'up' && crashAt !== undefined) {
                samples.push(now - crashAt);
                if (exitedAt !== undefined && startedAt !== undefined) {
                  phases.exit.push(exitedAt - crashAt);
                  phases.restart.push(startedAt - exitedAt);
                  phases.boot.push(now - startedAt);
                }
                crashAt = undefined;
                if (samples.length >= rounds) done();
              } else if (line.startsWith('crash ')) {
                crashAt = Number(line.slice(6));
              }
            },
          }),
      },
    ],
  });
  sup.on('childExited', () => (exitedAt = wall()));
  sup.on('childStarted', () => (startedAt = wall()));
  await finished;
  sup.kill();
  await sup.wait();
  return samples;
}

// The floor for any supervisor: respawn synchronously inside the 'exit' handler, no work at all
// between the dying child being reaped and the new spawn. The crash -> first line time still
// includes the dying node process's own teardown (process.exit until the kernel reports it),
// which a bare spawn does not pay; that alone is several percent of a node boot.
const ideal = { total: [] as number[], exit: [] as number[] };
function idealRespawns(rounds: number): Promise<void> {
  return new Promise((resolve) => {
    let crashAt: number | undefined;
    let got = 0;
    const start = () => {
      const child = spawn(process.execPath, [script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
        env: { ...process.env, CRASH_AFTER_MS: '20' },
      });
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        const now = wall();
        for (const line of chunk.split('\n')) {
          if (line === 'up' && crashAt !== undefined) {
            ideal.total.push(now - crashAt);
            crashAt = undefined;
            got++;
          } else if (line.startsWith('crash ')) crashAt = Number(line.slice(6));
        }
      });
      child.once('exit', () => {
        if (crashAt !== undefined) ideal.exit.push(wall() - crashAt);
        if (got >= rounds) resolve();
        else start();
      });
    };
    start();
  });
}

// Alternate blocks of each, so a machine that gets busier or quieter affects both alike.
const BLOCKS = 3;
const perBlock = Math.ceil(ROUNDS / BLOCKS);
const bare: number[] = [];
const bareDetached: number[] = [];
const respawn: number[] = [];
await bareSpawnToFirstLine(); // warm the file cache
for (let b = 0; b < BLOCKS; b++) {
  for (let i = 0; i < perBlock; i++) {
    bare.push(await bareSpawnToFirstLine());
    bareDetached.push(await bareSpawnToFirstLine(true));
  }
  respawn.push(...(await supervisedRespawns(perBlock)));
  await idealRespawns(perBlock);
}
const bareP50 = percentile(bare, 0.5);
const respP50 = percentile(respawn, 0.5);
console.log(`\n## respawn: crash to replacement's first line vs bare spawn to first line (${bare.length} rounds each, ms)`);
console.log(['name', 'p50 ms', 'p90 ms', 'min ms', 'x bare spawn'].join('\t'));
for (const [name, s] of [
  ['bare spawn', bare],
  ['bare spawn, detached', bareDetached],
  ['Supervisor + monitorProcess', respawn],
  ['floor: respawn in the exit handler', ideal.total],
] as const) {
  console.log(
    [
      name,
      percentile(s, 0.5).toFixed(1),
      percentile(s, 0.9).toFixed(1),
      Math.min(...s).toFixed(1),
      (percentile(s, 0.5) / bareP50).toFixed(3),
    ].join('\t'),
  );
}
console.log(
  `respawn ratio (p50): ${(respP50 / bareP50).toFixed(3)} (goal <= 1.05; PM2 1.56-1.65); against a detached bare spawn: ${(respP50 / percentile(bareDetached, 0.5)).toFixed(3)}`,
);
const p50 = (s: number[]) => percentile(s, 0.5).toFixed(2);
console.log(
  `respawn phases p50 ms: crash -> reaped ${p50(phases.exit)}, reaped -> replacement spawned ${p50(phases.restart)}, ` +
    `spawned -> first line ${p50(phases.boot)}`,
);
console.log(
  `floor (no supervisor work at all): ${(percentile(ideal.total, 0.5) / bareP50).toFixed(3)} x bare; of it crash -> exit event ${p50(ideal.exit)} ms ` +
    `(the dying process's own teardown, ${((percentile(ideal.exit, 0.5) / bareP50) * 100).toFixed(1)}% of a bare spawn)`,
);
