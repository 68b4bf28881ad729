// The program both daemons run in bench/daemon, by mode (first argument):
//   idle                 print one line, then wait forever
//   crash <file> <ms>    append "up <wall ms>" to file, print a line, after <ms> append "down <wall ms>" and exit 1
//   spew <file> <lines>  append "start <wall ms>" to file, then print <lines> lines of 64 bytes as fast as stdout takes them
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const wall = () => performance.timeOrigin + performance.now();
const [mode, file, arg] = process.argv.slice(2);

if (mode === 'crash') {
  appendFileSync(file!, `up ${wall()}\n`);
  console.log('up');
  setTimeout(() => {
    appendFileSync(file!, `down ${wall()}\n`);
    process.exit(1);
  }, Number(arg));
} else if (mode === 'spew') {
  const total = Number(arg);
  appendFileSync(file!, `start ${wall()}\n`);
  const line = (i: number) => `line ${String(i).padStart(8, '0')} ${'x'.repeat(49)}\n`;
  let i = 0;
  const pump = () => {
    while (i < total) {
      let chunk = '';
      for (let k = 0; k < 256 && i < total; k++) chunk += line(i++);
      if (!process.stdout.write(chunk)) return void process.stdout.once('drain', pump);
    }
  };
  pump();
  setInterval(() => {}, 1 << 30);
} else {
  console.log('online');
  setInterval(() => {}, 1 << 30);
}
