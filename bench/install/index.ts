// bench/install: what installing and importing bosun costs a user, against piscina and pg-boss
// measured in the same run: installed size and package count of `npm install <pkg>` in a fresh
// project (bosun without and with its optional database drivers), and the wall time and heap of
// a first `import` in a fresh node process (median of several).
// Run: npm run bench -- install   (needs the npm registry or a warm npm cache; prints, asserts nothing)

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const dev = (name: string) => `${name}@${pkg.devDependencies[name]}`;
const RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 7);

/** A folder with no node_modules above it, so nothing resolves from outside the fresh project. */
function isolatedBase(): string {
  const clean = (d: string) => {
    for (let at = d; ; at = dirname(at)) {
      if (existsSync(join(at, 'node_modules'))) return false;
      if (dirname(at) === at) return true;
    }
  };
  const base = [tmpdir(), '/var/tmp', homedir()].find((d) => existsSync(d) && clean(d));
  if (base === undefined) throw new Error('no folder without a node_modules above it for the fresh projects');
  return base;
}

function run(cmd: string, args: string[], cwd: string): string {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_') || k === 'npm_config_cache') env[k] = v;
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Bytes of every file under `dir` (apparent size, links not followed). */
function sizeOf(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    total += st.isDirectory() ? sizeOf(p) : st.size;
  }
  return total;
}

interface Install {
  name: string;
  bytes: number;
  packages: number;
}

function install(base: string, name: string, specs: string[]): { install: Install; dir: string } {
  const dir = join(base, name.replace(/[^\w]+/g, '-'));
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-app', version: '1.0.0', private: true, type: 'module' }));
  run('npm', ['install', ...specs, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], dir);
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  const packages = Object.keys(lock.packages).filter((k) => k !== '').length;
  return { install: { name, bytes: sizeOf(join(dir, 'node_modules')), packages }, dir };
}

interface ImportCost {
  name: string;
  ms: number;
  heapBytes: number;
}

/** Median wall time and heap growth (after GC) of a first `import(spec)` in a fresh node process. */
function importCost(dir: string, name: string, spec: string): ImportCost {
  const probe = `
    const { performance } = await import('node:perf_hooks');
    globalThis.gc(); const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now(); await import(${JSON.stringify(spec)}); const ms = performance.now() - t0;
    globalThis.gc(); const heap = process.memoryUsage().heapUsed - heap0;
    console.log(JSON.stringify({ ms, heap }));`;
  writeFileSync(join(dir, 'probe.mjs'), probe);
  const samples: { ms: number; heap: number }[] = [];
  for (let i = 0; i < RUNS; i++)
    samples.push(JSON.parse(run(process.execPath, ['--expose-gc', 'probe.mjs'], dir)) as { ms: number; heap: number });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { name, ms: median(samples.map((s) => s.ms)), heapBytes: median(samples.map((s) => s.heap)) };
}

const mb = (n: number) => (n / 2 ** 20).toFixed(1);
const base = mkdtempSync(join(isolatedBase(), 'bosun-bench-install-'));
try {
  const tarball = join(
    base,
    (JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', base], root)) as { filename: string }[])[0]!
      .filename,
  );
  const lean = install(base, 'bosun', [tarball]);
  const full = install(base, 'bosun + drivers', [tarball, dev('@electric-sql/pglite'), dev('pg')]);
  const piscina = install(base, dev('piscina'), [dev('piscina')]);
  const pgBoss = install(base, dev('pg-boss'), [dev('pg-boss')]);
  const installs = [lean, full, piscina, pgBoss].map((i) => i.install);

  console.log('\n## npm install in a fresh project (apparent size of node_modules)');
  console.log(['package', 'MB', 'packages', 'x piscina (MB)', 'x pg-boss (MB)'].join('\t'));
  for (const i of installs) {
    console.log(
      [i.name, mb(i.bytes), i.packages, (i.bytes / piscina.install.bytes).toFixed(2), (i.bytes / pgBoss.install.bytes).toFixed(2)].join(
        '\t',
      ),
    );
  }

  const imports = [
    importCost(lean.dir, "import 'bosun'", 'bosun'),
    importCost(lean.dir, "import 'bosun/service'", 'bosun/service'),
    importCost(lean.dir, "import 'bosun/process'", 'bosun/process'),
    importCost(lean.dir, "import 'bosun/queue'", 'bosun/queue'),
    importCost(piscina.dir, "import 'piscina'", 'piscina'),
    importCost(pgBoss.dir, "import 'pg-boss'", 'pg-boss'),
  ];
  const byName = (n: string) => imports.find((i) => i.name === n)!;
  console.log(`\n## first import in a fresh node process (median of ${RUNS})`);
  console.log(['import', 'ms', 'heap MB', 'ms x piscina', 'ms x pg-boss', 'heap x piscina', 'heap x pg-boss'].join('\t'));
  for (const i of imports) {
    const p = byName("import 'piscina'");
    const b = byName("import 'pg-boss'");
    console.log(
      [
        i.name,
        i.ms.toFixed(1),
        mb(i.heapBytes),
        (i.ms / p.ms).toFixed(2),
        (i.ms / b.ms).toFixed(2),
        (i.heapBytes / p.heapBytes).toFixed(2),
        (i.heapBytes / b.heapBytes).toFixed(2),
      ].join('\t'),
    );
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
