// How a command becomes an argv: a string is split as sh splits words (quotes, backslashes),
// `shell: true` with an array quotes each item, and validation works from an object with no
// file and without the file-system checks. Real daemons show the commands run as written,
// a bad reload leaves the fleet running, and a big config starts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, validateConfig } from '../../src/fleet/config.js';
import { duplicateJsonKeys } from '../../src/fleet/json-keys.js';
import { joinShellWords, splitShellWords } from '../../src/fleet/shell-words.js';
import { cli, prog, startDaemon, tempProject, waitFor, type Daemon, type Status } from '../cli/helpers.js';

describe('shell words', () => {
  test('split as sh does: quotes, backslashes, empty words, no expansion', () => {
    assert.deepEqual(splitShellWords("sh -c 'echo hi; sleep 100'"), ['sh', '-c', 'echo hi; sleep 100']);
    assert.deepEqual(splitShellWords(`node  server.js --name "a b" --x=it\\'s`), ['node', 'server.js', '--name', 'a b', "--x=it's"]);
    assert.deepEqual(splitShellWords(`a "" '' b`), ['a', '', '', 'b']);
    assert.deepEqual(splitShellWords(`"a \\"q\\" \\$HOME \\n"`), ['a "q" $HOME \\n']);
    assert.deepEqual(splitShellWords(`pre'mid'"end" x\\ y`), ['premidend', 'x y']);
    assert.deepEqual(splitShellWords('  \t\n'), []);
    assert.deepEqual(splitShellWords("echo '$HOME | x'"), ['echo', '$HOME | x']);
  });

  test('refuse what only a shell would understand, and unterminated quotes', () => {
    for (const bad of ['echo hi | cat', 'a; b', 'a && b', 'run > out.log', 'echo $HOME', 'echo `id`', 'x &', '(sub)']) {
      assert.throws(() => splitShellWords(bad), /is shell syntax: set shell: true for a shell, or quote it/, bad);
    }
    assert.throws(() => splitShellWords("echo 'hi"), /unterminated ' quote at character 6/);
    assert.throws(() => splitShellWords('echo "hi'), /unterminated " quote at character 6/);
    assert.throws(() => splitShellWords('echo \\'), /lone backslash/);
  });

  test('join quotes every item that needs it, so each stays one word', () => {
    const argv = ['echo', 'a b; echo INJECTED', "it's", '$HOME', '', 'plain-word_1.2/x=y'];
    const line = joinShellWords(argv);
    assert.equal(line, `echo 'a b; echo INJECTED' 'it'\\''s' '$HOME' '' plain-word_1.2/x=y`);
    assert.deepEqual(splitShellWords(line), argv);
  });
});

describe('validateConfig', () => {
  const noFiles = { checkFiles: false };

  test('a string command is split into words; shell: true keeps a string and quotes an array', () => {
    const c = validateConfig(
      {
        programs: {
          split: { command: "sh -c 'echo hi; sleep 100'" },
          script: { command: 'echo a && echo b', shell: true },
          quoted: { command: ['echo', 'a b; echo INJECTED'], shell: true },
        },
      },
      '/srv/app/bosun.config.yaml',
      noFiles,
    );
    assert.deepEqual(
      c.programs.map((p) => p.command),
      [['sh', '-c', 'echo hi; sleep 100'], ['echo a && echo b'], ["echo 'a b; echo INJECTED'"]],
    );
  });

  test('without a file, relative paths resolve against the working directory; file is empty', () => {
    const c = validateConfig(
      { home: 'h', programs: { api: { command: ['x'], cwd: 'sub', logs: { file: 'api.log' } } } },
      undefined,
      noFiles,
    );
    assert.equal(c.file, '');
    assert.equal(c.home, join(process.cwd(), 'h'));
    assert.equal(c.programs[0]!.cwd, join(process.cwd(), 'sub'));
    assert.equal(c.programs[0]!.logs.file, join(process.cwd(), 'api.log'));
    assert.throws(
      () => validateConfig({ programs: { api: {} } }),
      (err: ConfigError) => err.message.startsWith('invalid config (object):') && err.problems[0] === 'programs.api.command: required',
    );
  });

  test('checkFiles: false skips the file-system checks; by default they run', () => {
    const raw = { programs: { api: { command: ['bosun-no-such-binary'], cwd: '/nonexistent/dir' } } };
    assert.equal(validateConfig(raw, '/x/bosun.config.yaml', noFiles).programs[0]!.cwd, '/nonexistent/dir');
    assert.throws(
      () => validateConfig(raw, '/x/bosun.config.yaml'),
      (err: ConfigError) => {
        assert.deepEqual(err.problems, ["programs.api.cwd: no such directory '/nonexistent/dir'"]);
        return true;
      },
    );
  });

  test('durations take days as service options do, up to the longest timer', () => {
    const c = validateConfig({ programs: { a: { command: ['x'], killTimeout: '1d', activityTimeout: '2147483647' } } }, undefined, noFiles);
    assert.equal(c.programs[0]!.killTimeoutMs, 86_400_000);
    assert.equal(c.programs[0]!.activityTimeoutMs, 2 ** 31 - 1);
    assert.throws(
      () => validateConfig({ programs: { a: { command: ['x'], killTimeout: '25d' } } }, undefined, noFiles),
      /programs\.a\.killTimeout: expected a duration of at most 2147483647ms \(about 24\.8 days\), got '25d'/,
    );
  });

  test('readyTimeout: default 60 s, a duration, at least 1 ms', () => {
    const c = validateConfig({ programs: { a: { command: ['x'] }, b: { command: ['x'], readyTimeout: '90s' } } }, undefined, noFiles);
    assert.deepEqual(
      c.programs.map((p) => p.readyTimeoutMs),
      [60_000, 90_000],
    );
    assert.throws(
      () => validateConfig({ programs: { a: { command: ['x'], readyTimeout: 0 } } }, undefined, noFiles),
      /programs\.a\.readyTimeout: expected a duration of at least 1ms, got 0/,
    );
  });

  test('the home given by --home decides the default log paths the shared-log check sees', () => {
    const raw = { programs: { a: { command: ['x'], logs: { file: '/elsewhere/logs/b-0.log' } }, b: { command: ['x'] } } };
    assert.doesNotThrow(() => validateConfig(raw, '/x/bosun.config.yaml', noFiles));
    assert.throws(
      () => validateConfig(raw, '/x/bosun.config.yaml', { ...noFiles, home: '/elsewhere' }),
      /programs\.a\.logs\.file: '\/elsewhere\/logs\/b-0\.log' is also the log of b\[0\]/,
    );
  });
});

describe('duplicate JSON keys', () => {
  test('are found with the path of the object holding them and the line', () => {
    const text = '{\n "a": 1,\n "b": { "c": [ { "d": 1, "d": 2 } ], "c": 3 },\n "a": 2\n}';
    assert.deepEqual(duplicateJsonKeys(text), [
      { path: 'b.c[0]', key: 'd', line: 3 },
      { path: 'b', key: 'c', line: 3 },
      { path: '', key: 'a', line: 4 },
    ]);
    assert.deepEqual(duplicateJsonKeys('{"a\\"b": 1, "a\\u0022b": 2, "x": "}{,\\\\"}'), [{ path: '', key: 'a"b', line: 1 }]);
    assert.deepEqual(duplicateJsonKeys('[1, {"a": null}, "s"]'), []);
  });
});

describe('commands in a running daemon', () => {
  test("a quoted string command runs as written: sh -c 'echo hi; sleep 100' stays up", async () => {
    const p = tempProject(
      `dashboard: false\nprograms:\n  quoted: { command: "sh -c 'echo hi; exec sleep 100'", logs: { file: quoted.log } }\n  injected: { command: [echo, "a b; echo INJECTED"], shell: true, restart: never, logs: { file: injected.log } }\n`,
    );
    let d: Daemon | undefined;
    try {
      d = await startDaemon(p.dir, p.home);
      await waitFor('quoted prints hi', () => readFileSync(join(p.dir, 'quoted.log'), 'utf8') === 'hi\n');
      const s = await d.until('injected exited', (s) => s.programs[1]!.state === 'stopped');
      assert.equal(s.programs[0]!.state, 'running');
      assert.equal(s.programs[0]!.restarts, 0);
      assert.equal(readFileSync(join(p.dir, 'injected.log'), 'utf8'), 'a b; echo INJECTED\n', 'one argument, echoed, no second command');
    } finally {
      await d?.stop();
      p.cleanup();
    }
  });

  test('a reload with a config that would exhaust memory exits 2 and leaves the fleet running', async () => {
    const p = tempProject(`dashboard: false\nprograms:\n  api: { command: ${prog()} }\n`);
    let d: Daemon | undefined;
    try {
      d = await startDaemon(p.dir, p.home);
      const before = await d.until('api running', (s) => s.programs[0]!.pid !== null);
      p.write(`dashboard: false\nprograms:\n  api: { command: ${prog()}, instances: 100000000, killTimeout: 600h }\n`);
      const r = await cli(['reload'], { cwd: p.dir });
      assert.equal(r.code, 2);
      assert.equal(
        r.stderr,
        "programs.api.instances: expected an integer from 1 to 1024, got 100000000\nprograms.api.killTimeout: expected a duration of at most 2147483647ms (about 24.8 days), got '600h'\n",
      );
      const after = await d.status();
      assert.deepEqual(
        after.programs.map((x) => [x.name, x.pid]),
        before.programs.map((x) => [x.name, x.pid]),
      );
    } finally {
      await d?.stop();
      p.cleanup();
    }
  });

  test('bosun start takes a config bigger than an environment variable may be (177 KB)', async () => {
    const env = Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`BIG_${i}`, 'v'.repeat(4000)]));
    const p = tempProject('');
    try {
      p.write(JSON.stringify({ dashboard: false, programs: { api: { command: JSON.parse(prog()) as string[], env } } }));
      assert.ok(readFileSync(p.config).length > 177_000);
      const r = await cli(['start'], { cwd: p.dir });
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse((await cli(['status', '--json', '--home', p.home])).stdout) as Status;
      assert.equal(s.programs[0]!.name, 'api');
      const pid = (await waitFor(
        'api running',
        async () => (JSON.parse((await cli(['status', '--json', '--home', p.home])).stdout) as Status).programs[0]!.pid ?? undefined,
      ))!;
      assert.match(readFileSync(`/proc/${pid}/environ`, 'latin1'), /BIG_44=v{4000}/);
    } finally {
      await cli(['shutdown', '--home', p.home]);
      p.cleanup();
    }
  });
});
