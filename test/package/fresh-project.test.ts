// The package as a user gets it: npm pack, then npm install of the tarball into a fresh project
// without the database drivers. The tarball carries LICENSE, docs and a repository; every subpath
// resolves and type-checks under strict TypeScript; a Supervisor and a Service run; opening a
// PGlite store fails naming the package to install, and works once it is installed (the one
// 27 MB install of this suite, from the npm cache when it is warm).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const repoPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
const SUBPATHS = ['bosun', 'bosun/service', 'bosun/process', 'bosun/process/child', 'bosun/queue', 'bosun/fleet', 'bosun/testing'];
const INSTALL_MS = 240_000;

/**
 * A folder for the fresh project with no node_modules in any parent: Node resolves a package by
 * walking up, so a stray /tmp/node_modules would hand the app the drivers it must not have.
 */
function isolatedBase(): string {
  const clean = (d: string) => {
    for (let at = d; ; at = dirname(at)) {
      if (existsSync(join(at, 'node_modules'))) return false;
      if (dirname(at) === at) return true;
    }
  };
  const base = [tmpdir(), '/var/tmp', homedir()].find((d) => existsSync(d) && clean(d));
  if (base === undefined)
    throw new Error(`no folder for a fresh project: ${tmpdir()}, /var/tmp and ${homedir()} all have a node_modules above them`);
  return base;
}

/** npm without the settings of the `npm test` that runs us (npm_* variables), except its cache. */
function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_') || k === 'npm_config_cache') env[k] = v;
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: INSTALL_MS });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

const OFFLINE_FIRST = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];

/** Runs `code` as an ES module inside the project; returns what it printed as JSON. */
function runIn(app: string, name: string, code: string): unknown {
  writeFileSync(join(app, name), code);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [name], { cwd: app, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${name} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('a fresh project installing the packed tarball', { timeout: 2 * INSTALL_MS + 120_000 }, () => {
  let dir = '';
  let app = '';
  let tarball = '';

  before(() => {
    dir = mkdtempSync(join(isolatedBase(), 'bosun-fresh-'));
    app = join(dir, 'app');
    // dist/ is built by `npm test`'s pretest; --ignore-scripts skips prepack's second build.
    const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root);
    tarball = join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball carries LICENSE, README, docs and a package.json with repository and optional drivers', () => {
    const listing = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).stdout.split('\n');
    for (const f of ['package/LICENSE', 'package/README.md', 'package/package.json', 'package/dist/index.js', 'package/dist/index.d.ts']) {
      assert.ok(listing.includes(f), `${f} is in the tarball`);
    }
    // Every relative link of the README resolves inside the installed package.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(((?!https?:|#)[^)\s]+)\)/g)].map((m) => m[1]!.split('#')[0]!);
    assert.ok(links.length > 0);
    for (const l of links) assert.ok(listing.includes(`package/${l}`), `README link ${l} resolves in the tarball`);
    const meta = JSON.parse(spawnSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' }).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(meta.license, 'MIT');
    assert.match(String((meta.repository as { url?: string } | undefined)?.url), /^git\+https:\/\/.+\.git$/);
    const deps = Object.keys(meta.dependencies as object);
    for (const heavy of ['@electric-sql/pglite', 'pg', 'zod']) assert.ok(!deps.includes(heavy), `${heavy} is no dependency`);
    assert.deepEqual(meta.peerDependenciesMeta, { '@electric-sql/pglite': { optional: true }, pg: { optional: true } });
  });

  test(
    'npm install of the tarball installs no database driver; every subpath imports and type-checks strict',
    { timeout: INSTALL_MS + 60_000 },
    () => {
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', version: '1.0.0', private: true, type: 'module' }));
      npm(['install', tarball, ...OFFLINE_FIRST], app);
      for (const absent of ['@electric-sql/pglite', 'pg', 'zod'])
        assert.ok(!existsSync(join(app, 'node_modules', absent)), `${absent} not installed`);

      const imported = runIn(
        app,
        'imports.mjs',
        `const names = ${JSON.stringify(SUBPATHS)};
       const out = {};
       for (const n of names) out[n] = Object.keys(await import(n)).length;
       console.log(JSON.stringify(out));`,
      ) as Record<string, number>;
      for (const n of SUBPATHS) assert.ok(imported[n]! > 0, `${n} exports something`);

      // A user's strict TypeScript over every subpath, the declarations included (skipLibCheck off).
      writeFileSync(
        join(app, 'check.ts'),
        `import { Supervisor, startWorker, type Reporter } from 'bosun';
       import { Service, PeriodicTask, type ExecuteContext } from 'bosun/service';
       import { ProcessPool } from 'bosun/process';
       import { send } from 'bosun/process/child';
       import { JobQueue, pgliteStore, DriverMissingError } from 'bosun/queue';
       import { loadConfig } from 'bosun/fleet';
       import { TestClock, checkKilled } from 'bosun/testing';
       class Tick extends PeriodicTask { override async execute({ signal }: ExecuteContext) { void signal; } }
       const svc: Reporter = new Service({ name: 'x', tasks: [Tick], clock: new TestClock() });
       const sup = new Supervisor({ children: [{ id: 'w', start: () => startWorker(async () => {}) }] });
       const pool = new ProcessPool<{ add(a: number, b: number): number }>({ module: '/nowhere.js', size: 1 });
       const n: Promise<number> = pool.run('add', [1, 2]);
       export { svc, sup, n, send, JobQueue, pgliteStore, DriverMissingError, loadConfig, checkKilled };
      `,
      );
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ['node'],
            typeRoots: [join(root, 'node_modules', '@types')],
          },
          files: ['check.ts'],
        }),
      );
      const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
        cwd: app,
        encoding: 'utf8',
      });
      assert.equal(tsc.status, 0, `strict type-check of a user's file failed:\n${tsc.stdout}${tsc.stderr}`);
    },
  );

  test(
    'a Supervisor and a Service run; pgliteStore fails naming @electric-sql/pglite; installed, it works',
    { timeout: INSTALL_MS + 60_000 },
    () => {
      const program = `
      import { Supervisor, startWorker } from 'bosun';
      import { Service, PeriodicTask } from 'bosun/service';
      import { JobQueue, pgliteStore } from 'bosun/queue';
      let ran = 0;
      const sup = new Supervisor({ children: [{ id: 'once', restart: 'transient', start: () => startWorker(async () => { ran++; }) }] });
      await new Promise((r) => setTimeout(r, 20));
      sup.kill(); await sup.wait();
      let ticks = 0;
      class Tick extends PeriodicTask { static interval = 10; async execute() { ticks++; } }
      const svc = new Service({ name: 'fresh', tasks: [Tick] });
      while (ticks < 2) await new Promise((r) => setTimeout(r, 5));
      svc.kill(); await svc.wait();
      let queue;
      try {
        const q = await JobQueue.open({ store: pgliteStore('./queue-data') });
        const job = await q.add('hello', { n: 1 });
        queue = { ok: true, state: (await q.get(job.id)).state };
        await q.close();
      } catch (err) {
        queue = { ok: false, name: err.name, code: err.code, driver: err.driver, message: err.message };
      }
      console.log(JSON.stringify({ ran, ticks, queue }));`;
      const without = runIn(app, 'program.mjs', program) as { ran: number; ticks: number; queue: Record<string, unknown> };
      assert.equal(without.ran, 1, 'the supervisor ran its child');
      assert.ok(without.ticks >= 2, 'the service ran its periodic task');
      assert.equal(without.queue.ok, false);
      assert.equal(without.queue.name, 'DriverMissingError');
      assert.equal(without.queue.code, 'ERR_DRIVER_MISSING');
      assert.equal(without.queue.driver, '@electric-sql/pglite');
      assert.match(String(without.queue.message), /pgliteStore needs the package @electric-sql\/pglite.*npm install @electric-sql\/pglite/);

      npm(['install', `@electric-sql/pglite@${repoPkg.devDependencies['@electric-sql/pglite']}`, ...OFFLINE_FIRST], app);
      const withDriver = runIn(app, 'program.mjs', program) as { queue: Record<string, unknown> };
      assert.deepEqual(withDriver.queue, { ok: true, state: 'pending' });
    },
  );
});
