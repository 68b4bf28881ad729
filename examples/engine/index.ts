// A dependency engine in a minute: config -> db -> api, plus a gate the api waits on.
// Run: node build/examples/engine/index.js. It bounces the config once and shows the db and
// api restart behind it (api stops first, then db), then stops the engine.

import { BounceError, Engine, Gate, gateManifold, startWorker, type Worker } from '../../src/index.js';

const log = (msg: string) => console.log(`${new Date().toISOString().slice(11, 23)} ${msg}`);

/** A worker that logs its stop, and can be told to bounce itself. */
function service(name: string): Worker & { bounce(): void } {
  let bounce!: () => void;
  const w = startWorker(
    (signal) =>
      new Promise<void>((resolve, reject) => {
        bounce = () => reject(new BounceError(`${name} config changed`));
        signal.addEventListener('abort', () => (log(`stop ${name}`), resolve()), { once: true });
      }),
  );
  log(`start ${name}`);
  return Object.assign(w, { bounce: () => bounce() });
}

const engine = new Engine({ bounceDelayMs: 50 });
let config: ReturnType<typeof service> | undefined;
const migrated = new Gate();

engine.install('config', { start: async () => (config = service('config')), output: () => ({ dsn: 'postgres://db' }) });
engine.install('migrated', gateManifold(migrated));
engine.install('db', {
  inputs: ['config'],
  start: async (ctx) => {
    const { dsn } = ctx.get<{ dsn: string }>('config');
    log(`db connects to ${dsn}`);
    return service('db');
  },
});
engine.install('api', {
  inputs: ['db', 'migrated'],
  start: async (ctx) => {
    await ctx.get<Gate>('migrated').unlocked(ctx.signal); // start serving only after migrations
    return service('api');
  },
});

await new Promise((r) => setTimeout(r, 200));
log('migrations done: unlocking the gate');
migrated.unlock();
await new Promise((r) => setTimeout(r, 200));
log('config changes: bounce it');
config!.bounce();
await new Promise((r) => setTimeout(r, 400));
console.log(JSON.stringify(engine.report(), null, 2));
engine.kill();
await engine.wait();
log('engine stopped');
