// The program details the dashboard shows: how a program is run, env names and never values,
// and the socket, watch and schedule keys when the config has them.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { programInfos } from '../../src/cli/dashboard/programs.js';
import { validateConfig } from '../../src/fleet/config.js';

const FILE = join('/srv/app', 'bosun.config.yaml');

test('details name the command, cwd, env keys (never values), limits and log files', () => {
  const config = validateConfig(
    {
      home: '/srv/app/.bosun',
      programs: {
        api: {
          command: 'node server.js --port 3000',
          cwd: 'api',
          env: { TOKEN: 'hush-7', PORT: '3000' },
          instances: 2,
          ready: { log: 'listening' },
          memoryLimit: '256MB',
          after: ['db'],
        },
        db: { command: ['postgres', '-D', 'data dir'], shell: false },
        sh: { command: 'echo $HOME', shell: true },
      },
    },
    FILE,
    { checkFiles: false },
  );
  const [api, db, sh] = programInfos(config);
  assert.deepEqual(api!.command, ['node', 'server.js', '--port', '3000']);
  assert.equal(api!.cwd, '/srv/app/api');
  assert.deepEqual(api!.envKeys, ['PORT', 'TOKEN']);
  assert.equal(JSON.stringify(api).includes('hush-7'), false);
  assert.equal(api!.ready, 'log /listening/');
  assert.equal(api!.memoryLimitBytes, 256 * 2 ** 20);
  assert.deepEqual(api!.after, ['db']);
  assert.deepEqual(api!.logFiles, ['/srv/app/.bosun/logs/api-0.log', '/srv/app/.bosun/logs/api-1.log']);
  assert.deepEqual(api!.listen, []);
  assert.equal(api!.cronRestart, undefined);
  assert.deepEqual(db!.command, ['postgres', '-D', 'data dir']);
  assert.deepEqual(sh!.command, ['/bin/sh', '-c', 'echo $HOME'], 'with shell: true, what is spawned');
});

test('sockets, watch, schedule, rolling and env file are shown when the config has them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-programs-'));
  try {
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, '.env'), 'FROM_FILE=hush-8\n');
    const config = validateConfig(
      {
        programs: {
          web: {
            command: ['node', 'web.js'],
            instances: 2,
            listen: [3000, 'unix:web.sock'],
            rolling: true,
            envFile: '.env',
            env: { OWN: 'x' },
            watch: { paths: ['src'], ignore: ['*.tmp'], debounce: '250ms' },
            cronRestart: '0 3 * * *',
          },
        },
      },
      join(dir, 'bosun.config.yaml'),
      { checkFiles: false },
    );
    const [info] = programInfos(config);
    assert.equal(info!.listen.length, 2);
    assert.equal(info!.listen[0], '3000');
    assert.match(info!.listen[1]!, /^unix:.*web\.sock$/);
    assert.equal(info!.rolling, true);
    assert.equal(info!.envFile, join(dir, '.env'));
    assert.deepEqual(info!.envKeys, ['FROM_FILE', 'OWN'], "the env file's names too, never its values");
    assert.equal(JSON.stringify(info).includes('hush-8'), false);
    assert.deepEqual(info!.watch, { paths: [join(dir, 'src')], ignore: ['*.tmp'], debounceMs: 250 });
    assert.equal(info!.cronRestart, '0 3 * * *');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
