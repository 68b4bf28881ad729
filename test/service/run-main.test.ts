import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/main-service.js', import.meta.url));

interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor: (pattern: RegExp, what: string) => Promise<void>;
}

function start(args: string[], env: Record<string, string> = {}): Child {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT; // else the fixture thinks the test runner loaded it as a test
  const proc = spawn(process.execPath, [fixture, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const watchers: Array<() => void> = [];
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of watchers) w();
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of watchers) w();
    }),
  );
  // Never leave a child behind, whatever happens in the test.
  const killTimer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  void exited.then(() => clearTimeout(killTimer));
  const waitFor = (pattern: RegExp, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(out)) resolve();
        else if (proc.exitCode !== null || proc.signalCode !== null)
          reject(new Error(`child exited before ${what}; stdout:\n${out}\nstderr:\n${err}`));
      };
      watchers.push(check);
      check();
    });
  return { proc, stdout: () => out, stderr: () => err, exited, waitFor };
}

const logLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: number });

test('runMain: SIGTERM stops the service gracefully, stop hooks run, exit code 0', async () => {
  const child = start([]);
  await child.waitFor(/"msg":"service started"/, 'service started');
  child.proc.kill('SIGTERM');
  const { code } = await child.exited;
  assert.equal(code, 0, child.stdout() + child.stderr());
  const msgs = logLines(child.stdout()).map((l) => l.msg);
  const at = (m: string) => msgs.findIndex((x) => x.startsWith(m));
  assert.ok(at('received SIGTERM') !== -1, msgs.join('\n'));
  assert.ok(at('stop hook ran') > at('received SIGTERM'));
  assert.ok(at('join hook ran') > at('stop hook ran'));
  assert.ok(at('exiting cleanly') > at('join hook ran'));
});

test('runMain: a task that ignores stop is cut off at the shutdown timeout with exit code 1', async () => {
  const child = start(['--shutdown-timeout', '300ms'], { FIXTURE_STUBBORN: '1' });
  await child.waitFor(/"msg":"service started"/, 'service started');
  const sentAt = Date.now();
  child.proc.kill('SIGTERM');
  const { code } = await child.exited;
  assert.equal(code, 1);
  assert.ok(Date.now() - sentAt >= 300, 'not before the timeout');
  assert.match(child.stdout(), /did not stop within 300 ms/);
  assert.match(child.stdout(), /stop hook ran/, 'the well-behaved task was still stopped');
});

test('runMain: a second signal forces an exit with code 1', async () => {
  const child = start(['--shutdown-timeout=60s'], { FIXTURE_STUBBORN: '1' });
  await child.waitFor(/"msg":"service started"/, 'service started');
  child.proc.kill('SIGINT');
  await child.waitFor(/received SIGINT; stopping/, 'first signal handled');
  child.proc.kill('SIGINT');
  const { code } = await child.exited;
  assert.equal(code, 1);
  assert.match(child.stdout(), /received SIGINT again; exiting now/);
});

test('runMain: --help prints the options by task and exits 0 without starting', async () => {
  const child = start(['--help']);
  const { code } = await child.exited;
  assert.equal(code, 0);
  assert.match(child.stdout(), /Usage: fixture \[options\]/);
  assert.match(child.stdout(), /--shutdown-timeout <duration>/);
  assert.doesNotMatch(child.stdout(), /service started/);
});

test('runMain: a bad flag value exits 1 with a message naming the flag', async () => {
  const child = start(['--shutdown-timeout', 'soon']);
  const { code } = await child.exited;
  assert.equal(code, 1);
  assert.match(child.stderr(), /invalid value for --shutdown-timeout: expected a duration/);
});
