// A typed pool: ProcessPool<typeof import('./tasks.js')> checks names, arguments and results at
// compile time (the @ts-expect-error lines fail `npm run typecheck` if they ever compile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessPool } from '../../src/process/index.js';
import { fixture } from './helpers.js';

test('a pool typed by its module runs its functions with their argument and result types', async () => {
  const pool = new ProcessPool<typeof import('./fixtures/typed-tasks.js')>({ module: fixture('typed-tasks.js'), size: 1 });
  try {
    const sum: number = await pool.run('add', [2, 3]);
    const greeting: string = await pool.run('greet', ['ada']);
    const stamp: number = await pool.run('now');
    assert.equal(sum, 5);
    assert.equal(greeting, 'hello ada');
    assert.equal(typeof stamp, 'number');
    // @ts-expect-error: not an exported function of the module
    await assert.rejects(pool.run('version'));
    // @ts-expect-error: add takes two numbers
    assert.equal(await pool.run('add', ['2', 3]), '23');
    // @ts-expect-error: the result of greet is a string
    const wrong: number = await pool.run('greet', ['x']);
    assert.equal(typeof wrong, 'string');
  } finally {
    await pool.close();
  }
});

test('an untyped pool takes any name and resolves to the type it is given', async () => {
  const pool = new ProcessPool({ module: fixture('typed-tasks.js'), size: 1 });
  try {
    const sum = await pool.run<number>('add', [2, 3]);
    const unknownResult: unknown = await pool.run('greet', ['ada']);
    assert.equal(sum, 5);
    assert.equal(unknownResult, 'hello ada');
  } finally {
    await pool.close();
  }
});
