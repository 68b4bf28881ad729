// The benchmark's programs: `beat <host> <file>` appends `<host> <monotonic ms> <pid>` at
// start and every 20 ms and exits on SIGTERM; `idle` does nothing and exits once its daemon
// is gone, so a SIGKILLed daemon leaves nothing behind.

import { appendFileSync } from 'node:fs';

const [mode, host, file] = process.argv.slice(2);
process.on('SIGTERM', () => process.exit(0));
if (mode === 'beat') {
  const beat = () => appendFileSync(file!, `${host} ${Number(process.hrtime.bigint() / 1_000_000n)} ${process.pid}\n`);
  beat();
  setInterval(beat, 20);
} else {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000);
}
