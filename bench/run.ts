// npm run bench [name...]: runs each bench/<name>/index.js in its own process, in order.
// With no names it runs them all. Each prints its own table with ratios to its peers.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here).filter((d) => statSync(join(here, d)).isDirectory() && existsSync(join(here, d, 'index.js')));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; have: ${all.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : all) {
  console.log(`\n# bench/${name}`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, name, 'index.js')], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench/${name} exited with ${r.status ?? r.signal}`);
    failed++;
  }
}
process.exit(failed > 0 ? 1 : 0);
