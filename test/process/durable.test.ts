// Output that outlives its monitor, and adoption: a program whose monitor is SIGKILLed keeps
// running and printing into its named pipes (no EPIPE, no lost line), and a new monitor adopts
// it (same pid) and reads the rest into the same log. Real processes throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AdoptError, AdoptedExitError, OutputPipeError, makeFifos, monitorProcess, procInfo } from '../../src/process/index.js';
import { signalQuietly } from '../../src/process/tree.js';
import { fixture, gone, node, procFixture, until, withTempDir } from './helpers.js';

interface Host {
  proc: ChildProcess;
  pid: number;
  startTime: number;
  exited: Promise<void>;
}

/** Starts monitor-host.js with `config`; resolves once it has spawned its program. */
async function startHost(config: Record<string, unknown>): Promise<Host> {
  const proc = spawn(node, [fixture('monitor-host.js'), JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`monitor host exited (${code}) before spawning`)));
  });
  const { pid, startTime } = JSON.parse(first) as { pid: number; startTime: number };
  return { proc, pid, startTime, exited };
}

/** Bytes `pid` has written so far (all write syscalls), from /proc/<pid>/io. */
function written(pid: number): number {
  const m = /^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

const ticks = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('tick '))
    .map((l) => Number(l.slice(5)));

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('durable', fn);

const pipesIn = (dir: string) => ({ stdout: join(dir, 'out.fifo'), stderr: join(dir, 'err.fifo') });

test('a program keeps printing when its monitor is SIGKILLed; a new monitor adopts it (same pid) and the log has no gap', async () => {
  await withDir(async (dir) => {
    const outputPipes = pipesIn(dir);
    const logFile = join(dir, 'app.log');
    const host = await startHost({ command: node, args: [procFixture, 'tick', '50'], outputPipes, logFile, outliveMonitor: true });
    try {
      await until(() => ticks(readLog(logFile)).length >= 5, 'five ticks in the log');
      host.proc.kill('SIGKILL');
      await host.exited;
      // Unmonitored, it goes on printing into the pipe: at least three more ticks (of ~7 bytes).
      const before = written(host.pid);
      await until(() => written(host.pid) >= before + 21, 'the orphaned program printing', 5000);
      assert.equal(procInfo(host.pid)?.startTime, host.startTime, 'the same program still runs');
      const logged = ticks(readLog(logFile)).length;

      const m = monitorProcess({
        command: node,
        adopt: { pid: host.pid, startTime: host.startTime },
        outputPipes,
        logFile,
        killGraceMs: 1000,
      });
      assert.equal(m.pid, host.pid);
      assert.equal(m.startTime, host.startTime);
      assert.equal(m.adopted, true);
      await m.ready(); // an adopted process counts as ready at once
      await until(() => ticks(readLog(logFile)).length >= logged + 10, 'ten more ticks through the new monitor');
      assert.ok(m.tail().some((l) => l.startsWith('tick ')));
      m.kill();
      await m.wait();
      assert.ok(gone(host.pid), 'the adopted program is gone after kill()');
      const all = ticks(readLog(logFile));
      all.forEach((n, i) => assert.equal(n, i, `tick ${i} is missing or out of order in the log`));
    } finally {
      signalQuietly(-host.pid, 'SIGKILL');
      host.proc.kill('SIGKILL');
    }
  });
});

test('with nobody reading, a full pipe blocks the program instead of losing output; the adopter reads it all', async () => {
  await withDir(async (dir) => {
    const outputPipes = pipesIn(dir);
    const logFile = join(dir, 'app.log');
    const kb = 256;
    const host = await startHost({
      command: node,
      args: [procFixture, 'burst-on-usr1', String(kb)],
      outputPipes,
      logFile,
      outliveMonitor: true,
    });
    try {
      await until(() => readLog(logFile).includes('waiting'), 'the program started');
      host.proc.kill('SIGKILL');
      await host.exited;
      // Counted before the signal: the burst may have filled the pipe by the time we look again.
      const before = written(host.pid);
      signalQuietly(host.pid, 'SIGUSR1');
      // It writes into the pipe until the buffer is full, then blocks: more than 16 KB, far from 256 KB.
      await until(() => written(host.pid) > before + 16 * 1024, 'the burst filling the pipe', 5000);
      assert.ok(!gone(host.pid), 'no EPIPE: the program lives');

      const m = monitorProcess({ command: node, adopt: { pid: host.pid, startTime: host.startTime }, outputPipes, logFile });
      await until(() => m.tail().includes('burst done'), 'the whole burst read by the adopter');
      m.kill();
      await m.wait();
      const lines = readLog(logFile)
        .split('\n')
        .filter((l) => /^\d{10} /.test(l))
        .map((l) => Number(l.slice(0, 10)));
      assert.equal(lines.length, Math.floor((kb * 1024) / 100));
      lines.forEach((n, i) => assert.equal(n, i, `burst line ${i} lost`));
    } finally {
      signalQuietly(-host.pid, 'SIGKILL');
      host.proc.kill('SIGKILL');
    }
  });
});

test('an adopted program that ends on its own rejects with AdoptedExitError (status unknown) after its last lines', async () => {
  await withDir(async (dir) => {
    const outputPipes = pipesIn(dir);
    const host = await startHost({ command: node, args: [procFixture, 'tick-until-usr1', '50'], outputPipes, outliveMonitor: true });
    try {
      host.proc.kill('SIGKILL');
      await host.exited;
      const m = monitorProcess({ command: node, adopt: { pid: host.pid, startTime: host.startTime }, outputPipes, tailLines: 3 });
      await until(() => m.tail().some((l) => l.startsWith('tick ')), 'ticks through the adopter');
      signalQuietly(host.pid, 'SIGUSR1');
      const err = await m.wait().then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AdoptedExitError, `got ${String(err)}`);
      assert.equal(err.code, 'ERR_PROCESS_EXIT');
      assert.equal(err.exitCode, null);
      assert.equal(err.signal, null);
      assert.match(err.message, /exit status is unknown/);
      assert.equal(err.tail.at(-1), 'bye');
      assert.deepEqual(m.exitInfo, { code: null, signal: null });
    } finally {
      signalQuietly(-host.pid, 'SIGKILL');
      host.proc.kill('SIGKILL');
    }
  });
});

test('kill() of an adopted program reaches its whole tree, a descendant in its own session included', async () => {
  const host = await startHost({ command: node, args: [procFixture, 'tree'], outliveMonitor: true });
  const pids: number[] = [host.pid];
  try {
    host.proc.kill('SIGKILL');
    await host.exited;
    // Without output pipes nothing is read; the tree is found through /proc alone.
    await until(() => descendantsOf(host.pid).length === 2, 'three processes in the tree');
    pids.push(...descendantsOf(host.pid));
    const m = monitorProcess({ command: node, adopt: { pid: host.pid, startTime: host.startTime }, killGraceMs: 300 });
    m.kill();
    await m.wait();
    for (const pid of pids) assert.ok(gone(pid), `pid ${pid} survived the kill`);
  } finally {
    for (const pid of pids) signalQuietly(pid, 'SIGKILL');
    host.proc.kill('SIGKILL');
  }
});

test('adopt refuses at once a pid that is gone, or that now names another process', async () => {
  const m = monitorProcess({ command: 'true' });
  await m.wait();
  const { pid, startTime } = m as { pid: number; startTime: number };
  assert.ok(typeof startTime === 'number');
  assert.throws(
    () => monitorProcess({ command: 'true', adopt: { pid, startTime } }),
    (e: unknown) => e instanceof AdoptError && e.code === 'ERR_ADOPT' && e.reason === 'gone' && e.pid === pid,
  );
  const alive = monitorProcess({ command: 'sleep', args: ['30'] });
  try {
    assert.equal(alive.startTime, procInfo(alive.pid!)?.startTime);
    assert.throws(
      () => monitorProcess({ command: 'sleep', adopt: { pid: alive.pid!, startTime: alive.startTime! - 1 } }),
      (e: unknown) => e instanceof AdoptError && e.reason === 'reused' && /another process/.test(e.message),
    );
    assert.ok(!gone(alive.pid!), 'a refused adoption touches nothing');
  } finally {
    alive.kill();
    await alive.wait();
  }
});

test('through output pipes the last lines and an unterminated last line are in tail() and the log when wait() settles', async () => {
  await withDir(async (dir) => {
    const outputPipes = pipesIn(dir);
    // Output and exit land in the same poll phase: nothing may be left in the pipe.
    for (let i = 0; i < 10; i++) {
      const logFile = join(dir, `run${i}.log`);
      const m = monitorProcess({
        command: 'sh',
        args: ['-c', `seq 1 ${2000 + i}; printf 'no newline ${i}'; echo err >&2`],
        outputPipes,
        logFile,
      });
      await m.wait();
      const text = await readFile(logFile, 'utf8');
      assert.ok(text.includes(`${2000 + i}\nno newline ${i}`), `run ${i}: the log lacks the last lines`);
      assert.ok(text.includes('err\n'));
      const tail = m.tail();
      assert.ok(
        tail.includes(String(2000 + i)) && tail.includes(`no newline ${i}`) && tail.includes('err'),
        `run ${i}: tail is ${tail.slice(-3)}`,
      );
    }
  });
});

test('a program whose monitor exits normally is SIGKILLed with every descendant, unless outliveMonitor is set', async () => {
  const pidsOf = (host: Host) => [host.pid, ...descendantsOf(host.pid)];
  // The default: the exit hook (a second Ctrl-C) reaches a descendant in a session of its own too.
  const doomed = await startHost({ command: node, args: [procFixture, 'tree'] });
  let pids: number[] = [];
  try {
    await until(() => (pids = pidsOf(doomed)).length === 3, 'three processes in the tree');
    doomed.proc.stdin!.write('exit\n');
    await doomed.exited;
    await until(() => pids.every(gone), `every process of the tree killed (left: ${pids.filter((p) => !gone(p))})`, 5000);
  } finally {
    for (const pid of pids) signalQuietly(pid, 'SIGKILL');
  }
  const kept = await startHost({ command: node, args: [procFixture, 'tree'], outliveMonitor: true });
  try {
    await until(() => (pids = pidsOf(kept)).length === 3, 'three processes in the tree');
    kept.proc.stdin!.write('exit\n');
    await kept.exited;
    for (const pid of pids) assert.ok(!gone(pid), `pid ${pid} was killed although outliveMonitor is set`);
  } finally {
    for (const pid of pids) signalQuietly(pid, 'SIGKILL');
  }
});

test('makeFifos creates the missing pipes mode 0600 in one go and refuses a path that is not a pipe', async () => {
  await withDir(async (dir) => {
    const paths = [join(dir, 'a'), join(dir, 'b'), join(dir, 'c')];
    makeFifos(paths.slice(0, 1));
    makeFifos(paths);
    for (const p of paths) {
      const st = statSync(p);
      assert.ok(st.isFIFO(), `${p} is not a FIFO`);
      assert.equal(st.mode & 0o777, 0o600);
    }
    const file = join(dir, 'plain');
    await writeFile(file, '');
    assert.throws(
      () => makeFifos([file]),
      (e: unknown) => e instanceof OutputPipeError && e.code === 'ERR_OUTPUT_PIPE' && e.path === file,
    );
    const m = monitorProcess({ command: 'true', outputPipes: { stdout: file, stderr: paths[0]! } });
    await assert.rejects(m.wait(), OutputPipeError);
    await assert.rejects(m.ready(), OutputPipeError);
    assert.equal(m.pid, undefined, 'nothing was spawned');
  });
});

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    let children: string;
    try {
      children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const c of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}
