// Config loading and validation: every problem is one line starting with its exact path,
// `bosun run` exits 2 on a bad config and starts nothing.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, defineConfig, loadConfig, validateConfig } from '../../src/fleet/config.js';
import { parseDuration, parseSize } from '../../src/fleet/units.js';
import { cli, tempProject } from '../cli/helpers.js';

describe('durations and sizes', () => {
  test('accept numbers and unit strings, MB is 2^20 bytes', () => {
    assert.equal(parseDuration(250), 250);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('5s'), 5000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('5 sec'), undefined);
    assert.equal(parseDuration(-1), undefined);
    assert.equal(parseSize('10MB'), 10 * 2 ** 20);
    assert.equal(parseSize('512KB'), 512 * 1024);
    assert.equal(parseSize(1000), 1000);
    assert.equal(parseSize('lots'), undefined);
  });
});

describe('config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('json and mjs default exports load, with defaults filled in', async () => {
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ programs: { api: { command: 'node server.js', env: { PORT: 3000 } } } }));
    const a = await loadConfig(join(dir, 'a.json'), { checkFiles: false });
    assert.equal(a.home, join(dir, '.bosun'));
    assert.deepEqual(a.dashboard, { host: '127.0.0.1', port: 9615 });
    const api = a.programs[0]!;
    assert.deepEqual(api.command, ['node', 'server.js']);
    assert.equal(api.cwd, dir);
    assert.deepEqual(api.env, { PORT: '3000' });
    assert.equal(api.restart, 'always');
    assert.equal(api.instances, 1);
    assert.equal(api.killTimeoutMs, 5000);
    writeFileSync(
      join(dir, 'b.mjs'),
      "export default { home: 'h', dashboard: false, programs: { w: { command: ['node', 'w.js'], ready: { delay: '1s' }, memoryLimit: '64MB' } } };\n",
    );
    const b = await loadConfig(join(dir, 'b.mjs'), { checkFiles: false });
    assert.equal(b.home, join(dir, 'h'));
    assert.equal(b.dashboard, false);
    assert.deepEqual(b.programs[0]!.ready, { kind: 'delay', ms: 1000 });
    assert.equal(b.programs[0]!.memoryLimitBytes, 64 * 2 ** 20);
    assert.equal(defineConfig({ programs: {} }).programs !== undefined, true);
  });

  test('supervisor.strategy defaults to one_for_one and accepts one_for_all and rest_for_one', () => {
    const file = join(dir, 's.yaml');
    const programs = { api: { command: 'node a.js' } };
    const noFiles = { checkFiles: false };
    assert.equal(validateConfig({ programs }, file, noFiles).strategy, 'one_for_one');
    assert.equal(validateConfig({ supervisor: { strategy: 'one_for_all' }, programs }, file, noFiles).strategy, 'one_for_all');
    assert.equal(validateConfig({ supervisor: { strategy: 'rest_for_one' }, programs }, file, noFiles).strategy, 'rest_for_one');
    assert.throws(
      () => validateConfig({ supervisor: { strategy: 'simple_one_for_one' }, programs }, file, noFiles),
      (err: ConfigError) => {
        assert.deepEqual(err.problems, [
          "supervisor.strategy: expected one_for_one | one_for_all | rest_for_one, got 'simple_one_for_one'",
        ]);
        return true;
      },
    );
  });

  test('reports every problem at once, one line each', () => {
    try {
      validateConfig({ programs: { api: { restart: 'sometimes', after: ['db', 3] } } }, join(dir, 'x.yaml'));
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        'programs.api.command: required',
        "programs.api.after[0]: unknown program 'db'",
        'programs.api.after[1]: expected a program name, got 3',
        "programs.api.restart: expected always | on-failure | never, got 'sometimes'",
      ]);
    }
  });
});

// Ten (and more) different mistakes; each must exit 2, name the path, and start nothing.
const INVALID: [string, string, RegExp][] = [
  [
    'bad restart value',
    'programs:\n  api: { command: [node, a.js], restart: sometimes }\n',
    /^programs\.api\.restart: expected always \| on-failure \| never, got 'sometimes'$/m,
  ],
  ['missing command', 'programs:\n  api: { cwd: . }\n', /^programs\.api\.command: required$/m],
  [
    'after names an unknown program',
    'programs:\n  api: { command: [node, a.js], after: [db] }\n',
    /^programs\.api\.after\[0\]: unknown program 'db'$/m,
  ],
  [
    'dependency cycle',
    'programs:\n  a: { command: [node, a.js], after: [c] }\n  b: { command: [node, b.js], after: [a] }\n  c: { command: [node, c.js], after: [b] }\n',
    /^programs\.a\.after: dependency cycle a -> c -> b -> a$/m,
  ],
  ['unknown key', 'programs:\n  api: { command: [node, a.js], colour: blue }\n', /^programs\.api\.colour: unknown key/m],
  [
    'bad duration',
    'programs:\n  api: { command: [node, a.js], killTimeout: 5 sec }\n',
    /^programs\.api\.killTimeout: expected a duration.*got '5 sec'$/m,
  ],
  [
    'bad size',
    'programs:\n  api: { command: [node, a.js], memoryLimit: lots }\n',
    /^programs\.api\.memoryLimit: expected a size.*got 'lots'$/m,
  ],
  [
    'zero instances',
    'programs:\n  api: { command: [node, a.js], instances: 0 }\n',
    /^programs\.api\.instances: expected an integer from 1 to 1024, got 0$/m,
  ],
  [
    'invalid ready pattern',
    'programs:\n  api: { command: [node, a.js], ready: { log: "(" } }\n',
    /^programs\.api\.ready\.log: not a valid pattern/m,
  ],
  [
    'ready with two checks',
    'programs:\n  api: { command: [node, a.js], ready: { log: x, delay: 1s } }\n',
    /^programs\.api\.ready: expected exactly one of log, http, message, delay/m,
  ],
  [
    'dashboard port out of range',
    'dashboard: { port: 70000 }\nprograms:\n  api: { command: [node, a.js] }\n',
    /^dashboard\.port: expected an integer from 0 to 65535, got 70000$/m,
  ],
  ['no programs', 'home: ./h\n', /^programs: required$/m],
  [
    'command item not a string',
    'programs:\n  api: { command: [node, { a: 1 }] }\n',
    /^programs\.api\.command\[1\]: expected a string, got an object$/m,
  ],
  ['unknown top-level key', 'programz: {}\nprograms:\n  api: { command: [node, a.js] }\n', /^programz: unknown key/m],
  [
    'unknown supervisor strategy',
    'supervisor: { strategy: one_for_some }\nprograms:\n  api: { command: [node, a.js] }\n',
    /^supervisor\.strategy: expected one_for_one \| one_for_all \| rest_for_one, got 'one_for_some'$/m,
  ],
  [
    'bad backoff factor',
    'supervisor: { backoff: { factor: 0.5 } }\nprograms:\n  api: { command: [node, a.js] }\n',
    /^supervisor\.backoff\.factor: expected a number from 1 to 10, got 0\.5$/m,
  ],
];

describe('bosun run with an invalid config', { concurrency: 4 }, () => {
  for (const [name, yaml, expected] of INVALID) {
    test(`${name}: exits 2 naming the path, starts nothing`, async () => {
      const p = tempProject(yaml);
      try {
        const r = await cli(['run'], { cwd: p.dir });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, expected);
        assert.equal(r.stdout, '');
        assert.equal(existsSync(p.home), false, 'the daemon must not have set up its home');
      } finally {
        p.cleanup();
      }
    });
  }

  test('a yaml syntax error exits 2 naming the file', async () => {
    const p = tempProject('programs:\n  api: { command: [node\n');
    try {
      const r = await cli(['run', p.config]);
      assert.equal(r.code, 2);
      assert.ok(r.stderr.startsWith(`${p.config}: `), r.stderr);
    } finally {
      p.cleanup();
    }
  });

  test('no config file at all exits 2', async () => {
    const p = tempProject('');
    rmSync(p.config);
    try {
      const r = await cli(['run'], { cwd: p.dir });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no config file/);
    } finally {
      p.cleanup();
    }
  });
});
