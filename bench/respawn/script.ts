// The program bench/respawn restarts: prints its first line at once; with CRASH_AFTER_MS set it
// then prints the wall-clock moment of its crash and exits 1.
import { performance } from 'node:perf_hooks';
console.log('up');
const after = process.env.CRASH_AFTER_MS;
if (after !== undefined) {
  setTimeout(() => {
    console.log(`crash ${performance.timeOrigin + performance.now()}`);
    process.exit(1);
  }, Number(after));
}
