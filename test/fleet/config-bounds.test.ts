// Configs that used to start and then misbehave (V8 out of memory, a 1 ms "600h" timer, a
// crash loop on a missing binary, a silently dropped duplicate key, ...) now exit 2 before
// anything starts, with one line at the path of the problem.

import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cli, prog, tempProject } from '../cli/helpers.js';

const ok = prog(); // a command that passes every file check
// [what, file name, content, the line expected on stderr]
const CASES: [string, string, string, RegExp][] = [
  [
    'instances: 100000000 (V8 ran out of memory)',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, instances: 100000000 }\n`,
    /^programs\.api\.instances: expected an integer from 1 to 1024, got 100000000$/m,
  ],
  [
    'killTimeout over 2^31-1 ms (a 1 ms timer)',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, killTimeout: 600h }\n`,
    /^programs\.api\.killTimeout: expected a duration of at most 2147483647ms \(about 24\.8 days\), got '600h'$/m,
  ],
  [
    'activityTimeout over 2^31-1 ms (a spinning timer)',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, activityTimeout: 600h }\n`,
    /^programs\.api\.activityTimeout: expected a duration of at most 2147483647ms/m,
  ],
  [
    'readyTimeout over 2^31-1 ms',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, readyTimeout: 2147483648 }\n`,
    /^programs\.api\.readyTimeout: expected a duration of at most 2147483647ms/m,
  ],
  [
    'supervisor.period over 2^31-1 ms',
    'bosun.config.yaml',
    `supervisor: { period: 1000h }\nprograms:\n  api: { command: ${ok} }\n`,
    /^supervisor\.period: expected a duration of at most 2147483647ms/m,
  ],
  [
    'ready.delay over 2^31-1 ms',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, ready: { delay: 600h } }\n`,
    /^programs\.api\.ready\.delay: expected a duration of at most 2147483647ms/m,
  ],
  [
    'logs.maxSize: 0',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, logs: { maxSize: 0 } }\n`,
    /^programs\.api\.logs\.maxSize: expected a size of at least 4KB, got 0$/m,
  ],
  [
    'memoryLimit below 4 KiB',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, memoryLimit: 100 }\n`,
    /^programs\.api\.memoryLimit: expected a size of at least 4KB, got 100$/m,
  ],
  [
    'logs.keep: a million rotations',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, logs: { keep: 1000000 } }\n`,
    /^programs\.api\.logs\.keep: expected an integer from 0 to 1000, got 1000000$/m,
  ],
  [
    'backoff.factor: 1e300',
    'bosun.config.yaml',
    `supervisor: { backoff: { factor: 1e300 } }\nprograms:\n  api: { command: ${ok} }\n`,
    /^supervisor\.backoff\.factor: expected a number from 1 to 10, got 1e\+300$/m,
  ],
  [
    'backoff.max over a day',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, backoff: { max: 48h } }\n`,
    /^programs\.api\.backoff\.max: expected a duration of at most 24h, got '48h'$/m,
  ],
  [
    'a missing cwd',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, cwd: ./nope }\n`,
    /^programs\.api\.cwd: no such directory '\/.*\/nope'$/m,
  ],
  [
    'a cwd that is a file',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, cwd: ./bosun.config.yaml }\n`,
    /^programs\.api\.cwd: '\/.*\/bosun\.config\.yaml' is not a directory$/m,
  ],
  [
    'a binary not on PATH',
    'bosun.config.yaml',
    'programs:\n  api: { command: [bosun-no-such-binary, 100] }\n',
    /^programs\.api\.command\[0\]: 'bosun-no-such-binary' not found on PATH$/m,
  ],
  [
    'a binary path that does not exist',
    'bosun.config.yaml',
    'programs:\n  api: { command: [./bin/server] }\n',
    /^programs\.api\.command\[0\]: no such file '\/.*\/bin\/server'$/m,
  ],
  [
    'a file that is not executable',
    'bosun.config.yaml',
    'programs:\n  api: { command: [./bosun.config.yaml] }\n',
    /^programs\.api\.command\[0\]: '\/.*\/bosun\.config\.yaml' is not executable$/m,
  ],
  [
    'a missing node script',
    'bosun.config.yaml',
    `programs:\n  api: { command: [${JSON.stringify(process.execPath)}, --enable-source-maps, server.js] }\n`,
    /^programs\.api\.command\[2\]: no such script '\/.*\/server\.js'$/m,
  ],
  [
    'a missing node script in a string command',
    'bosun.config.yaml',
    'programs:\n  api: { command: "node missing.js --port 3000" }\n',
    /^programs\.api\.command\[1\]: no such script '\/.*\/missing\.js'$/m,
  ],
  [
    "an env key containing '='",
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, env: { "A=B": x } }\n`,
    /^programs\.api\.env\.A=B: an environment variable name cannot contain '='$/m,
  ],
  [
    'an env value with a NUL byte',
    'bosun.config.yaml',
    `programs:\n  api: { command: ${ok}, env: { A: "x\\0y" } }\n`,
    /^programs\.api\.env\.A: the value contains a NUL byte$/m,
  ],
  [
    'an argument with a NUL byte',
    'bosun.config.yaml',
    'programs:\n  api: { command: [echo, "a\\0b"] }\n',
    /^programs\.api\.command\[1\]: the argument contains a NUL byte$/m,
  ],
  [
    'two programs sharing one log file',
    'bosun.config.yaml',
    `programs:\n  a: { command: ${ok}, logs: { file: shared.log } }\n  b: { command: ${ok}, logs: { file: shared.log } }\n`,
    /^programs\.b\.logs\.file: '\/.*\/shared\.log' is also the log of a\[0\]; give each program its own file$/m,
  ],
  [
    "a log file that is another program's default log",
    'bosun.config.yaml',
    `programs:\n  a: { command: ${ok}, logs: { file: .bosun/logs/b-0.log } }\n  b: { command: ${ok} }\n`,
    /^programs\.a\.logs\.file: '\/.*\/\.bosun\/logs\/b-0\.log' is also the log of b\[0\]/m,
  ],
  [
    "a log file that is the daemon's own log",
    'bosun.config.yaml',
    `programs:\n  a: { command: ${ok}, logs: { file: .bosun/daemon.log } }\n`,
    /^programs\.a\.logs\.file: '\/.*\/\.bosun\/daemon\.log' is also the daemon's own log/m,
  ],
  [
    "a log file that is another log's rotated file",
    'bosun.config.yaml',
    `programs:\n  a: { command: ${ok}, logs: { file: a.log } }\n  b: { command: ${ok}, logs: { file: a.log.2 } }\n`,
    /^programs\.b\.logs\.file: '\/.*\/a\.log\.2' is also a rotated file of the log of a\[0\]/m,
  ],
  [
    'duplicate keys in a JSON config',
    'bosun.config.json',
    `{\n  "programs": {\n    "api": {\n      "command": ${ok},\n      "command": ["sleep", "1"]\n    }\n  }\n}\n`,
    /^programs\.api: duplicate key 'command' \(line 5\)$/m,
  ],
  [
    'duplicate program names in a JSON config',
    'bosun.config.json',
    `{"programs": {"a": {"command": ${ok}},\n "a": {"command": ${ok}}}}`,
    /^programs: duplicate key 'a' \(line 2\)$/m,
  ],
  [
    'duplicate keys in a YAML config',
    'bosun.config.yaml',
    `programs:\n  api:\n    command: ${ok}\n    restart: never\n    restart: always\n`,
    /^programs\.api: duplicate key 'restart' \(line 5\)$/m,
  ],
  [
    'an unterminated quote in a string command',
    'bosun.config.yaml',
    `programs:\n  api: { command: "sh -c 'echo hi; sleep 100" }\n`,
    /^programs\.api\.command: unterminated ' quote at character 7$/m,
  ],
  [
    'shell syntax in a command without a shell',
    'bosun.config.yaml',
    'programs:\n  api: { command: "echo hi | cat" }\n',
    /^programs\.api\.command: '\|' is shell syntax: set shell: true for a shell, or quote it$/m,
  ],
];

describe('bosun run refuses configs that would start and then misbehave', { concurrency: 4 }, () => {
  for (const [what, name, content, expected] of CASES) {
    test(`${what}: exits 2 with the line at its path, starts nothing`, async () => {
      const p = tempProject('');
      try {
        writeFileSync(join(p.dir, name), content);
        const r = await cli(['run', name], { cwd: p.dir });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, expected);
        assert.equal(r.stdout, '');
        assert.equal(existsSync(p.home), false, 'the daemon must not have set up its home');
      } finally {
        p.cleanup();
      }
    });
  }

  test('two log paths that are one file through a hard link: exits 2', async () => {
    const p = tempProject('');
    try {
      mkdirSync(join(p.dir, 'logs'));
      writeFileSync(join(p.dir, 'logs', 'a.log'), '');
      linkSync(join(p.dir, 'logs', 'a.log'), join(p.dir, 'logs', 'b.log'));
      p.write(`programs:\n  a: { command: ${ok}, logs: { file: logs/a.log } }\n  b: { command: ${ok}, logs: { file: logs/b.log } }\n`);
      const r = await cli(['run'], { cwd: p.dir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /^programs\.b\.logs\.file: '\/.*\/logs\/b\.log' is the same file \(a link\) as the log of a\[0\]; give each program its own file$/m,
      );
    } finally {
      p.cleanup();
    }
  });
});
