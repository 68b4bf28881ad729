// Contract check of `bosun/process` and `bosun/process/child`, imported by package name (dist/),
// with real child processes, against shared/DESIGN.md.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TimeoutError } from 'bosun';
import { ChildDeathError, ProcessExitError, ProcessPool, monitorProcess, type Heartbeat } from 'bosun/process';
import * as child from 'bosun/process/child';

const poolModule = new URL('./fixtures/pool-module.js', import.meta.url);

/** True while `pid` runs; a zombie (dead, not yet reaped by init) counts as gone. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('contract: monitorProcess', () => {
  test('pid, tail() oldest first, heartbeat at spawn, exit code != 0 rejects ProcessExitError with the same tail', async () => {
    const beats: Heartbeat[] = [];
    const w = monitorProcess({
      command: process.execPath,
      args: ['-e', 'for (let i = 1; i <= 5; i++) console.log("l" + i); process.exitCode = 3;'],
      tailLines: 3,
      onHeartbeat: (b) => void beats.push(b),
    });
    assert.equal(typeof w.pid, 'number');
    const err = await w.wait().then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProcessExitError, String(err));
    assert.equal(typeof err.code, 'string');
    assert.equal(err.exitCode, 3);
    assert.equal(err.signal, null);
    assert.deepEqual(w.tail(), ['l3', 'l4', 'l5']);
    assert.deepEqual(err.tail, ['l3', 'l4', 'l5']);
    assert.ok(beats.length >= 1, 'a heartbeat at spawn');
    assert.equal(beats[0]!.pid, w.pid);
    assert.ok(Array.isArray(beats[0]!.tail));
    assert.equal(typeof beats[0]!.uptimeMs, 'number');
  });

  test('no shell; cwd, env and logFile apply', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-contract-log-'));
    try {
      const logFile = join(dir, 'out.log');
      const w = monitorProcess({
        command: process.execPath,
        args: ['-e', 'console.log(process.argv[1]); console.log(process.cwd()); console.error(process.env.CONTRACT_X)', '$HOME;*'],
        cwd: dir,
        env: { ...process.env, CONTRACT_X: 'xyz' },
        logFile,
      });
      await w.wait();
      const tail = w.tail();
      assert.equal(tail[0], '$HOME;*');
      assert.equal(realpathSync(tail[1]!), realpathSync(dir));
      assert.ok(tail.includes('xyz'));
      assert.match(readFileSync(logFile, 'utf8'), /xyz/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('killSignal is what kill() sends first; a child that ignores it gets SIGKILL after killGraceMs', async () => {
    const polite = monitorProcess({
      command: process.execPath,
      args: [
        '-e',
        'process.on("SIGINT", () => { console.log("got SIGINT"); process.exit(0); }); console.log("up"); setInterval(() => {}, 1000)',
      ],
      killSignal: 'SIGINT',
    });
    await until('up', () => polite.tail().includes('up'));
    polite.kill();
    await polite.wait();
    assert.ok(polite.tail().includes('got SIGINT'));
    const deaf = monitorProcess({
      command: process.execPath,
      args: ['-e', 'process.on("SIGTERM", () => console.log("ignored")); console.log("up"); setInterval(() => {}, 1000)'],
      killGraceMs: 200,
    });
    await until('up', () => deaf.tail().includes('up'));
    const t0 = Date.now();
    deaf.kill();
    await deaf.wait();
    assert.ok(Date.now() - t0 >= 150, 'waited for the grace');
    assert.ok(!alive(deaf.pid!));
  });

  test('a signal that ends it: exitCode null, signal name', async () => {
    const w = monitorProcess({ command: process.execPath, args: ['-e', 'process.kill(process.pid, "SIGKILL")'] });
    await assert.rejects(w.wait(), (e: unknown) => e instanceof ProcessExitError && e.exitCode === null && e.signal === 'SIGKILL');
  });

  test('silence past activityTimeoutMs rejects with TimeoutError; output resets the timer', async () => {
    const quiet = monitorProcess({ command: process.execPath, args: ['-e', 'setTimeout(() => {}, 20000)'], activityTimeoutMs: 300 });
    await assert.rejects(quiet.wait(), TimeoutError);
    const chatty = monitorProcess({
      command: process.execPath,
      args: ['-e', 'let n = 0; const t = setInterval(() => { console.log(n); if (++n === 8) clearInterval(t); }, 100)'],
      activityTimeoutMs: 400,
    });
    await chatty.wait();
  });

  test('kill: wait resolves whatever the exit status; no descendant survives (even one that left the group and ignores SIGTERM)', async () => {
    const script = `
      const { spawn } = require('node:child_process');
      const stubborn = 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)';
      const a = spawn(process.execPath, ['-e', stubborn], { stdio: 'ignore' });
      const b = spawn(process.execPath, ['-e', stubborn], { stdio: 'ignore', detached: true });
      setTimeout(() => console.log('pids', a.pid, b.pid), 200);
      setInterval(() => {}, 1000);
    `;
    const w = monitorProcess({ command: process.execPath, args: ['-e', script], killGraceMs: 300 });
    await until('pids line', () => w.tail().some((l) => l.startsWith('pids')));
    const pids = w
      .tail()
      .find((l) => l.startsWith('pids'))!
      .split(' ')
      .slice(1)
      .map(Number);
    assert.equal(pids.length, 2);
    assert.ok(pids.every(alive));
    w.kill();
    await w.wait();
    assert.ok(!alive(w.pid!), 'child gone');
    assert.deepEqual(pids.map(alive), [false, false], 'no descendant survives wait()');
  });
});

describe('contract: monitorProcess heartbeats', () => {
  test('wait() settles only after a running heartbeat finished; never two at once; none after wait()', async () => {
    let running = 0;
    let overlap = false;
    let calls = 0;
    let finished = 0;
    const w = monitorProcess({
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      heartbeatMs: 10,
      onHeartbeat: async () => {
        calls++;
        if (++running > 1) overlap = true;
        await new Promise((r) => setTimeout(r, calls === 3 ? 300 : 20));
        running--;
        finished++;
      },
    });
    await until('third heartbeat running', () => calls === 3);
    w.kill();
    await w.wait();
    assert.equal(finished, calls, 'the running heartbeat finished before wait() settled');
    const after = calls;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(calls, after, 'no heartbeat after wait() settled');
    assert.equal(overlap, false);
  });

  test("a heartbeat's error fails the worker", async () => {
    const boom = new Error('heartbeat failed');
    const w = monitorProcess({
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      killGraceMs: 1000,
      onHeartbeat: () => {
        throw boom;
      },
    });
    await assert.rejects(w.wait(), (e) => e === boom);
  });
});

describe('contract: ProcessPool', () => {
  test('run(name, args) spreads args; errors keep name, message, stack and own properties; send() reaches onMessage before settling', async () => {
    const pool = new ProcessPool({ module: poolModule.href, size: 2 });
    try {
      assert.equal(await pool.run('add', [1, 2, 3]), 6);
      assert.equal(await pool.run('add', [1, 2]), 3);
      const err = await pool.run('quota', [5]).then(
        () => assert.fail('should reject'),
        (e: unknown) => e as Error & { limit?: number },
      );
      assert.ok(err instanceof Error);
      assert.equal(err.name, 'QuotaError');
      assert.equal(err.message, 'over quota 5');
      assert.equal(typeof err.stack, 'string');
      assert.match(err.stack!, /quota/);
      assert.equal(err.limit, 5);
      const messages: unknown[] = [];
      const result = await pool.run('chatty', [3], { onMessage: (m) => messages.push(m) });
      assert.equal(result, 'done');
      assert.deepEqual(messages, [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
    } finally {
      await pool.close();
    }
  });

  test('a child that dies rejects ChildDeathError (exitCode, signal) and is replaced; signal aborts a call', async () => {
    // module given as an absolute path this time
    const pool = new ProcessPool({ module: fileURLToPath(poolModule), size: 1 });
    try {
      const before = await pool.run<number>('pid');
      const err = await pool.run('die', [7]).then(
        () => assert.fail('should reject'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ChildDeathError, String(err));
      assert.equal(typeof err.code, 'string');
      assert.equal(err.exitCode, 7);
      assert.equal(err.signal, null);
      const after = await pool.run<number>('pid');
      assert.notEqual(after, before);
      await assert.rejects(
        pool.run('selfKill'),
        (e: unknown) => e instanceof ChildDeathError && e.exitCode === null && e.signal === 'SIGKILL',
      );
      const ac = new AbortController();
      const hung = pool.run('hang', [], { signal: ac.signal });
      setTimeout(() => ac.abort(new Error('enough')), 50);
      await assert.rejects(hung, /enough/);
      assert.equal(await pool.run('add', [2, 2]), 4);
    } finally {
      await pool.close();
    }
  });

  test('close() drains queued calls; destroy() rejects queued and running ones; both settle once children are reaped', async () => {
    const pool = new ProcessPool({ module: poolModule, size: 1 });
    const pid = await pool.run<number>('pid');
    const results = [pool.run('add', [1, 1]), pool.run('add', [2, 2])];
    await pool.close();
    assert.deepEqual(await Promise.all(results), [2, 4]);
    assert.ok(!alive(pid), 'child reaped when close() settled');

    const pool2 = new ProcessPool({ module: poolModule, size: 1 });
    const pid2 = await pool2.run<number>('pid');
    const running = pool2.run('hang').then(
      () => 'resolved',
      (e: unknown) => e,
    );
    const queued = pool2.run('add', [1, 2]).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 20));
    await pool2.destroy();
    assert.ok((await running) instanceof Error);
    assert.ok((await queued) instanceof Error);
    assert.ok(!alive(pid2), 'child reaped when destroy() settled');
  });

  test('taskTimeoutMs rejects with TimeoutError and the pool goes on; maxQueue refuses beyond it', async () => {
    const pool = new ProcessPool({ module: poolModule, size: 1, taskTimeoutMs: 200, maxQueue: 1 });
    try {
      const hung = pool.run('hang').then(
        () => 'resolved',
        (e: unknown) => e,
      );
      const queued = pool.run('add', [1, 1]).then(
        (v) => v,
        (e: unknown) => e,
      );
      const refused = await pool.run('add', [1, 1]).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      assert.ok(refused instanceof Error, 'beyond maxQueue');
      assert.ok((await hung) instanceof TimeoutError, String(await hung));
      assert.equal(await queued, 2);
    } finally {
      await pool.close();
    }
  });

  test('recycleAfter replaces a child after that many calls', async () => {
    const pool = new ProcessPool({ module: poolModule, size: 1, recycleAfter: 2 });
    try {
      const pids = [];
      for (let i = 0; i < 4; i++) pids.push(await pool.run<number>('pid'));
      assert.equal(pids[0], pids[1]);
      assert.notEqual(pids[1], pids[2]);
      assert.equal(pids[2], pids[3]);
    } finally {
      await pool.close();
    }
  });

  test('bosun/process/child exports send', () => {
    assert.equal(typeof child.send, 'function');
    assert.throws(() => child.send('outside a pool'));
  });
});
