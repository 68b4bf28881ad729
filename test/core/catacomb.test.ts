import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Catacomb, KilledError, noopWorker, startWorker, type Worker } from '../../src/core/index.js';
import { settle } from '../../src/testing/index.js';

/** A worker that stops when killed (after `delay` settles, if given) and records that it was killed. */
function killable(onKill?: () => void, stopError?: Error): Worker & { killed: boolean } {
  const state = { killed: false };
  const w = startWorker(
    (signal) =>
      new Promise<void>((resolve, reject) =>
        signal.addEventListener(
          'abort',
          () => {
            state.killed = true;
            onKill?.();
            if (stopError) reject(stopError);
            else resolve();
          },
          { once: true },
        ),
      ),
  );
  return Object.defineProperty(w, 'killed', { get: () => state.killed }) as Worker & { killed: boolean };
}

describe('Catacomb', () => {
  test('the first real error wins over later errors and over the kill reason', async () => {
    const first = new Error('first');
    const c = Catacomb.invoke({ work: (c) => new Promise<void>((r) => c.dying.addEventListener('abort', () => r(), { once: true })) });
    c.kill(first);
    c.kill(new Error('second'));
    c.kill();
    await assert.rejects(c.wait(), (err: unknown) => err === first);
    assert.equal(c.err(), first);
  });

  test('an error recorded after a clean kill still wins, but a kill reason that is an abort does not count', async () => {
    const real = new Error('real');
    const c = Catacomb.invoke({
      work: (c) => new Promise<void>((_, reject) => c.dying.addEventListener('abort', () => reject(real), { once: true })),
    });
    c.kill(new KilledError('asked to stop'));
    await assert.rejects(c.wait(), (err: unknown) => err === real);
  });

  test('a bare kill is clean', async () => {
    const c = Catacomb.invoke({ work: (c) => new Promise<void>((r) => c.dying.addEventListener('abort', () => r(), { once: true })) });
    c.kill();
    await c.wait();
    assert.equal(c.err(), undefined);
    assert.equal(c.dying.aborted, true);
  });

  test("an added worker's failure kills the catacomb and every other added worker", async () => {
    const boom = new Error('added failed');
    const other = killable();
    let fail!: (e: Error) => void;
    const failing = startWorker(() => new Promise<void>((_, reject) => (fail = reject)));
    const c = Catacomb.invoke({
      init: [other],
      work: async (c) => {
        c.add(failing);
        await new Promise<void>((r) => c.dying.addEventListener('abort', () => r(), { once: true }));
      },
    });
    await settle();
    fail(boom);
    await assert.rejects(c.wait(), (err: unknown) => err === boom);
    assert.equal(other.killed, true);
  });

  test('wait() settles only after every added worker stopped', async () => {
    let release!: () => void;
    const slow = startWorker(
      (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => (release = resolve), { once: true })),
    );
    const c = Catacomb.invoke({ init: [slow], work: async () => {} });
    let settled = false;
    void c.wait().then(() => (settled = true));
    await settle();
    assert.equal(settled, false, 'work ended, but the added worker is still stopping');
    release();
    await c.wait();
    assert.equal(settled, true);
  });

  test('adding to a dead catacomb kills the added worker at once', async () => {
    const c = Catacomb.invoke({ work: async () => {} });
    await c.wait();
    const late = killable();
    c.add(late);
    assert.equal(late.killed, true);
    await late.wait();
  });

  test('a worker added after the catacomb settled cannot change its recorded result', async () => {
    const c = Catacomb.invoke({ work: async () => {} });
    await c.wait();
    const late = killable(undefined, new Error('late failure'));
    c.add(late);
    await assert.rejects(late.wait());
    await settle();
    assert.equal(c.err(), undefined);
    await c.wait();
  });

  test('work that rejects kills the catacomb with that error', async () => {
    const boom = new Error('work rejected');
    const added = killable();
    const c = Catacomb.invoke({ init: [added], work: async () => Promise.reject(boom) });
    await assert.rejects(c.wait(), (err: unknown) => err === boom);
    assert.equal(added.killed, true);
  });

  test('a synchronous throw inside work is reported, not lost', async () => {
    const boom = new Error('panic');
    const added = killable();
    const c = Catacomb.invoke({
      init: [added],
      work: () => {
        throw boom;
      },
    });
    assert.equal(c.err(), boom);
    assert.equal(c.dying.aborted, true);
    await assert.rejects(c.wait(), (err: unknown) => err === boom);
    assert.equal(added.killed, true);
  });

  test('a non-Error thrown by work becomes an Error that keeps it as cause', async () => {
    const c = Catacomb.invoke({ work: () => Promise.reject('a string') });
    await assert.rejects(c.wait(), (err: unknown) => err instanceof Error && err.cause === 'a string');
  });

  test('work that resolves ends the catacomb cleanly and kills what it added', async () => {
    const w = noopWorker();
    const c = Catacomb.invoke({ work: async (c) => c.add(w) });
    await c.wait();
    await w.wait();
  });
});
