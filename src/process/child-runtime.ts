// The program a ProcessPool child runs: imports the pool's module once, then runs calls one at a
// time in arrival order. Calls arrive batched, and results and send() messages leave batched
// through one outbox, in order, flushed whenever the child is about to wait, so a burst of tiny
// calls costs one IPC message each way instead of one per call.
//
// Parent -> child: { t: 'calls', c: [id, name, args, id, name, args, ...] } | { t: 'cancel', id }
// Child -> parent: { t: 'ready' } | { t: 'init-error', error } | { t: 'stray', kind, error } |
//                  [kind, id, payload, kind, id, payload, ...] with kind 0 result, 1 error, 2 message, 3 skipped
//
// An error thrown outside any call (a timer of a call that already returned) or a rejection
// nobody handled would kill the child by Node's default, and with it a call that happens to be
// running: instead the runtime reports it ('stray') and keeps going, and the parent retires the
// child once the calls it holds are done.

import { pathToFileURL } from 'node:url';
import { Fifo } from '../core/fifo.js';
import { CHANNEL_KEY, type ChildChannel } from './child.js';
import { encodeError } from './remote-error.js';

const RESULT = 0;
const ERROR = 1;
const MESSAGE = 2;
const SKIPPED = 3;

type Call = [id: number, name: string, args: unknown[]];

let outbox: unknown[] = [];
let flushScheduled = false;
let currentId = -1;
const queue = new Fifo<Call>();
let running = false;
const cancelled = new Set<number>();
let exports: Record<string, unknown> = {};

function post(message: unknown): void {
  process.send!(message as object, undefined, undefined, (err: Error | null) => {
    // The parent is gone: nothing to report to, so stop.
    if (err) process.exit(0);
  });
}

function flush(): void {
  flushScheduled = false;
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  try {
    post(batch);
  } catch {
    // Something in the batch cannot be cloned: send record by record, turning the bad ones into errors.
    for (let i = 0; i < batch.length; i += 3) {
      const record = [batch[i], batch[i + 1], batch[i + 2]];
      try {
        post(record);
      } catch (err) {
        if (batch[i] === MESSAGE) continue; // an unclonable send() is dropped; the call goes on
        const what = batch[i] === RESULT ? 'result' : 'error';
        const e = new TypeError(`the call's ${what} cannot be sent back to the pool: ${(err as Error).message}`, { cause: err });
        post([ERROR, batch[i + 1], encodeError(e)]);
      }
    }
  }
}

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flush);
}

const channel: ChildChannel = {
  send(message) {
    if (currentId < 0) return false;
    outbox.push(MESSAGE, currentId, message);
    scheduleFlush();
    return true;
  },
};
(globalThis as { [CHANNEL_KEY]?: ChildChannel })[CHANNEL_KEY] = channel;

async function drain(): Promise<void> {
  running = true;
  for (let call = queue.shift(); call !== undefined; call = queue.shift()) {
    const [id, name, args] = call;
    if (cancelled.delete(id)) {
      outbox.push(SKIPPED, id, undefined);
      continue;
    }
    currentId = id;
    try {
      const fn = exports[name];
      if (typeof fn !== 'function') throw new TypeError(`the pool module exports no function named ${JSON.stringify(name)}`);
      let value = (fn as (...a: unknown[]) => unknown)(...args);
      if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
        flush(); // about to wait: let the parent see what is done so far
        value = await value;
      }
      outbox.push(RESULT, id, value);
    } catch (err) {
      outbox.push(ERROR, id, encodeError(err));
    }
  }
  currentId = -1;
  running = false;
  flush();
}

function onMessage(m: { t: string; c?: unknown[]; id?: number }): void {
  if (m.t === 'calls') {
    const c = m.c!;
    for (let i = 0; i < c.length; i += 3) queue.push([c[i] as number, c[i + 1] as string, c[i + 2] as unknown[]]);
    if (!running) void drain();
  } else if (m.t === 'cancel') {
    cancelled.add(m.id!);
  }
}

function reportStray(kind: 'uncaughtException' | 'unhandledRejection', err: unknown): void {
  try {
    post({ t: 'stray', kind, error: encodeError(err) });
  } catch {
    // The channel is gone: the 'disconnect' handler ends this process.
  }
}

async function main(): Promise<void> {
  const spec = process.argv[2]!;
  process.on('uncaughtException', (err) => reportStray('uncaughtException', err));
  process.on('unhandledRejection', (reason) => reportStray('unhandledRejection', reason));
  let loaded = false;
  const early: { t: string }[] = [];
  // Calls may arrive while the module loads; they wait until it has.
  process.on('message', (m) => {
    if (loaded) onMessage(m as { t: string });
    else early.push(m as { t: string });
  });
  process.on('disconnect', () => process.exit(0));
  try {
    exports = (await import(spec.startsWith('file:') ? spec : pathToFileURL(spec).href)) as Record<string, unknown>;
  } catch (err) {
    post({ t: 'init-error', error: encodeError(err) });
    process.disconnect();
    return;
  }
  loaded = true;
  post({ t: 'ready' });
  for (const m of early) onMessage(m);
}

void main();
