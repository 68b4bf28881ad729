// bench/daemon/start-ab: the start of 20 idle programs, this build's daemon against another
// build's, alternating the two in 8 rounds (the machine's drift hits both alike), median each.
// Run: node build/bench/daemon/start-ab.js /path/to/other/checkout/dist/cli/main.js
// (the other checkout built with `npm run build`). Prints; asserts nothing.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/cli/control.js';
import { percentile } from '../harness.js';

const other = process.argv[2];
if (other === undefined) throw new Error('usage: start-ab.js <other build>/dist/cli/main.js');
const sides: [string, string][] = [
  ['this build', fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url))],
  [other, other],
];
const PROGRAM = fileURLToPath(new URL('./program.js', import.meta.url));
const N = 20;
const ROUNDS = 8;

const work = mkdtempSync(join(tmpdir(), 'bosun-bench-start-ab-'));
const home = join(work, 'home');
const config = join(work, 'bosun.json');
const programs: Record<string, unknown> = {};
for (let i = 0; i < N; i++) programs[`idle${i}`] = { command: [process.execPath, PROGRAM, 'idle'], logs: { maxSize: '1GB' } };
writeFileSync(config, JSON.stringify({ home, dashboard: false, programs }));

const times = new Map<string, number[]>(sides.map(([name]) => [name, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, bin] of round % 2 === 0 ? sides : [...sides].reverse()) {
      const t0 = performance.now();
      execFileSync(process.execPath, [bin, 'start', config]);
      for (;;) {
        const r = await request(join(home, 'bosun.sock'), { cmd: 'status' });
        if (!r.ok) throw new Error(r.error);
        const running = (r.result as { programs: { state: string }[] }).programs.filter((p) => p.state === 'running').length;
        if (running === N) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      times.get(name)!.push(performance.now() - t0);
      execFileSync(process.execPath, [bin, 'shutdown', '--home', home]);
      await new Promise((res) => setTimeout(res, 500));
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const [a, b] = sides.map(([name]) => percentile(times.get(name)!, 0.5));
console.log(`start ${N} programs until all running, median of ${ROUNDS} alternating rounds:`);
for (const [name] of sides)
  console.log(
    `  ${name}: ${percentile(times.get(name)!, 0.5).toFixed(0)} ms [${times
      .get(name)!
      .map((t) => t.toFixed(0))
      .join(', ')}]`,
  );
console.log(`  this build / other: ${(a! / b!).toFixed(2)}`);
