// The ops keys of a program: listen, rolling, envFile, watch and cronRestart, each problem
// reported at its own path; the ready.http placeholders; the watch ignore rules.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, validateConfig } from '../../src/fleet/config.js';
import { portOf, readyUrl } from '../../src/fleet/config-ops.js';
import { ignoreMatcher } from '../../src/fleet/watch.js';

describe('ops config keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-config-ops-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bosun.config.yaml');
  const one = (web: object) =>
    validateConfig({ programs: { web: { command: 'node web.js', ...web } } }, file, { checkFiles: false }).programs[0]!;
  const problems = (web: object): string[] => {
    try {
      one(web);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
    assert.fail('expected a ConfigError');
  };

  test('defaults: no sockets, not rolling, no watch, no schedule', () => {
    const c = one({});
    assert.deepEqual(c.listen, []);
    assert.equal(c.rolling, false);
    assert.equal(c.watch, undefined);
    assert.equal(c.cronRestart, undefined);
    assert.equal(c.envFile, undefined);
  });

  test('listen takes PORT, HOST:PORT, [v6]:PORT and unix:PATH (relative to the config)', () => {
    const c = one({ listen: [3000, '8080', '127.0.0.1:3001', '[::1]:3002', 'localhost:3003', 'unix:run/web.sock'] });
    assert.deepEqual(c.listen, [
      { kind: 'tcp', host: undefined, port: 3000, text: '3000' },
      { kind: 'tcp', host: undefined, port: 8080, text: '8080' },
      { kind: 'tcp', host: '127.0.0.1', port: 3001, text: '127.0.0.1:3001' },
      { kind: 'tcp', host: '::1', port: 3002, text: '[::1]:3002' },
      { kind: 'tcp', host: '127.0.0.1', port: 3003, text: 'localhost:3003' },
      { kind: 'unix', path: join(dir, 'run', 'web.sock'), text: 'unix:run/web.sock' },
    ]);
  });

  test('bad listen entries are reported at their index', () => {
    assert.deepEqual(
      problems({
        listen: [
          'example.com:80',
          0,
          '127.0.0.1:70000',
          'unix:',
          '300.1.1.1:80',
          '127.0.0.1:3000',
          '127.0.0.1:3000',
          `unix:/${'x'.repeat(120)}`,
        ],
      }),
      [
        "programs.web.listen[0]: expected PORT, HOST:PORT (HOST an IP address, [v6] in brackets) or unix:PATH, got 'example.com:80'",
        'programs.web.listen[1]: expected PORT, HOST:PORT (HOST an IP address, [v6] in brackets) or unix:PATH, got 0',
        "programs.web.listen[2]: port out of range 1-65535, got '127.0.0.1:70000'",
        "programs.web.listen[3]: expected PORT, HOST:PORT (HOST an IP address, [v6] in brackets) or unix:PATH, got 'unix:'",
        "programs.web.listen[4]: not an IPv4 address: '300.1.1.1'",
        'programs.web.listen[6]: 127.0.0.1:3000 is listed twice',
        `programs.web.listen[7]: the socket path /${'x'.repeat(120)} is longer than the 107 bytes a unix socket path may have`,
      ],
    );
    assert.deepEqual(problems({ listen: '3000' }), ["programs.web.listen: expected a list, got '3000'"]);
  });

  test('envFile: dotenv syntax through util.parseEnv, env wins; a missing file is a problem at its path', () => {
    writeFileSync(join(dir, '.env'), '# a comment\nA=1\nB="two words"\nC=from-file\n');
    const c = one({ envFile: '.env', env: { C: 'from-env' } });
    assert.deepEqual(c.env, { A: '1', B: 'two words', C: 'from-env' });
    assert.equal(c.envFile, join(dir, '.env'));
    assert.deepEqual(problems({ envFile: 'nope.env' }), [`programs.web.envFile: cannot read ${join(dir, 'nope.env')} (no such file)`]);
    assert.deepEqual(problems({ envFile: '' }), ["programs.web.envFile: expected a non-empty string, got ''"]);
  });

  test('watch: true watches cwd; an object sets paths (relative to cwd), ignore and debounce', () => {
    assert.deepEqual(one({ watch: true }).watch, { paths: [dir], ignore: [], debounceMs: 500 });
    assert.equal(one({ watch: false }).watch, undefined);
    assert.deepEqual(one({ cwd: 'app', watch: { paths: ['src', '/etc/app.conf'], ignore: ['*.tmp'], debounce: '2s' } }).watch, {
      paths: [join(dir, 'app', 'src'), '/etc/app.conf'],
      ignore: ['*.tmp'],
      debounceMs: 2000,
    });
    assert.deepEqual(problems({ watch: { paths: [], debounce: 'soon', every: 1 } }), [
      'programs.web.watch.every: unknown key (expected one of paths, ignore, debounce)',
      'programs.web.watch.paths: expected at least one path',
      'programs.web.watch.debounce: expected a duration (ms number or "500ms", "5s", "2m", "1h", "1d"), got \'soon\'',
    ]);
    assert.deepEqual(problems({ watch: 'yes' }), ["programs.web.watch: expected true, false or { paths, ignore, debounce }, got 'yes'"]);
  });

  test('cronRestart is checked by croner; rolling is a boolean', () => {
    assert.equal(one({ cronRestart: '0 3 * * *' }).cronRestart, '0 3 * * *');
    assert.equal(one({ cronRestart: '*/5 * * * * *' }).cronRestart, '*/5 * * * * *');
    const [p] = problems({ cronRestart: 'every night' });
    assert.match(p!, /^programs\.web\.cronRestart: not a cron expression \(croner: /);
    assert.equal(one({ rolling: true }).rolling, true);
    assert.deepEqual(problems({ rolling: 'yes' }), ["programs.web.rolling: expected true or false, got 'yes'"]);
  });

  test('ready.http may use {instance} and {port}; {port} needs a TCP listen entry or PORT', () => {
    assert.equal(one({ listen: ['127.0.0.1:3000'], ready: { http: 'http://127.0.0.1:{port}/health?i={instance}' } }).ready?.kind, 'http');
    assert.equal(one({ env: { PORT: 4000 }, ready: { http: 'http://127.0.0.1:{port}/' } }).ready?.kind, 'http');
    assert.deepEqual(problems({ ready: { http: 'http://127.0.0.1:{port}/' } }), [
      'programs.web.ready.http: {port} needs a TCP entry in listen or a PORT variable in env or envFile',
    ]);
    assert.deepEqual(problems({ listen: [3000], ready: { http: 'http://127.0.0.1:{host}/' } }), [
      'programs.web.ready.http: unknown placeholder {host} (expected {instance} or {port})',
    ]);
    assert.equal(readyUrl('http://127.0.0.1:{port}/i/{instance}', 2, 3000), 'http://127.0.0.1:3000/i/2');
    assert.equal(readyUrl('http://127.0.0.1:900{instance}/', 1, undefined), 'http://127.0.0.1:9001/');
    assert.equal(portOf(one({ listen: ['unix:w.sock', '127.0.0.1:3000'] }).listen, { PORT: '1' }), 3000);
    assert.equal(portOf([], { PORT: '4000' }), '4000');
  });
});

describe('watch ignore rules', () => {
  const is = ignoreMatcher(['*.log', 'tmp', 'build/', 'assets/**/*.map'], '/app', ['/app/.bosun', '/var/log/web-0.log']);

  test('node_modules, .git, the home and log files are never watched', () => {
    assert.equal(is('/app/node_modules'), true);
    assert.equal(is('/app/lib/node_modules/x/index.js'), true);
    assert.equal(is('/app/.git/HEAD'), true);
    assert.equal(is('/app/.bosun/logs/web-0.log.1'), true);
    assert.equal(is('/app/.bosun'), true);
    assert.equal(is('/var/log/web-0.log'), true);
    assert.equal(is('/var/log/web-0.log.1'), true, 'its rotated copies');
    assert.equal(is('/var/log/web-0.log.idx'), true, 'and its index');
    assert.equal(is('/var/log/web-0.logs'), false, 'another file whose name starts the same');
    assert.equal(is('/app/.bosunrc'), false, 'a prefix of a name is not the name');
  });

  test('a pattern without / matches a path segment; with / a path under cwd; globs in both', () => {
    assert.equal(is('/app/src/server.log'), true);
    assert.equal(is('/app/src/tmp/x.js'), true);
    assert.equal(is('/app/src/tmpfile.js'), false);
    assert.equal(is('/app/build'), true);
    assert.equal(is('/app/build/out.js'), true);
    assert.equal(is('/app/src/build.js'), false);
    assert.equal(is('/app/assets/css/site.css.map'), true);
    assert.equal(is('/app/assets/site.js.map'), true, '**/ matches no folder too');
    assert.equal(is('/app/assets/css/site.css'), false);
    assert.equal(is('/app/src/index.js'), false);
  });
});
