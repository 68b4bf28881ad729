// The program details the dashboard shows: how a program is run, env names and never values,
// and the socket, watch and schedule keys when the config has them.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { programInfo, programInfos } from '../../src/cli/dashboard/programs.js';
import { validateConfig, type ProgramConfig } from '../../src/fleet/config.js';

const FILE = join('/srv/app', 'bosun.config.yaml');

test('details name the command, cwd, env keys (never values), limits and log files', () => {
  const config = validateConfig({
    home: '/srv/app/.bosun',
    programs: {
      api: { command: 'node server.js --port 3000', cwd: 'api', env: { TOKEN: 'hush-7', PORT: '3000' }, instances: 2, ready: { log: 'listening' }, memoryLimit: '256MB', after: ['db'] },
      db: { command: ['postgres', '-D', 'data dir'], shell: false },
      sh: { command: 'echo $HOME', shell: true },
    },
  }, FILE);
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
  const base = validateConfig({ home: '/srv/app/.bosun', programs: { web: { command: ['node', 'web.js'] } } }, FILE).programs[0]!;
  const withOps = {
    ...base,
    listen: [{ kind: 'tcp', host: undefined, port: 3000, text: '3000' }, { kind: 'unix', path: '/run/web.sock', text: 'unix:/run/web.sock' }],
    rolling: true,
    envFile: '/srv/app/.env',
    watch: { paths: ['/srv/app/src'], ignore: ['*.tmp'], debounceMs: 500 },
    cronRestart: '0 3 * * *',
  } as ProgramConfig;
  const info = programInfo('/srv/app/.bosun', withOps);
  assert.deepEqual(info.listen, ['3000', 'unix:/run/web.sock']);
  assert.equal(info.rolling, true);
  assert.equal(info.envFile, '/srv/app/.env');
  assert.deepEqual(info.watch, { paths: ['/srv/app/src'], ignore: ['*.tmp'], debounceMs: 500 });
  assert.equal(info.cronRestart, '0 3 * * *');
});
