// A home on a full disk (issue 12): the program whose log cannot be written keeps running,
// `status` says why its output is lost, and once there is space again its log takes lines
// again and the error is gone. A small tmpfs mounted in the test, as root; skipped otherwise.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cli, processesWith, prog, tempProject, waitFor, type Status } from './helpers.js';

const isRoot = process.getuid?.() === 0;

/** Fills the file system holding `file` to its last block. */
function fill(file: string): void {
  const chunk = Buffer.alloc(4096, 120);
  try {
    for (;;) writeFileSync(file, chunk, { flag: 'a' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
}

describe('a program log on a full disk', () => {
  test(
    'the program keeps running, status reports the log error, and the log resumes once space is back',
    { skip: isRoot ? false : 'needs root to mount a tmpfs' },
    async () => {
      const m = `bosun-fulldisk-${process.pid}`;
      const p = tempProject('');
      const home = join(p.dir, 'home');
      mkdirSync(home);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs', home]);
      const filler = join(home, 'filler');
      const log = join(home, 'logs', 'talker-0.log');
      const row = async () => (JSON.parse((await cli(['status', '--json', '--home', home])).stdout) as Status).programs[0]!;
      try {
        p.write(
          `home: ./home\ndashboard: false\nprograms:\n  talker: { command: ${prog('--count', 20)}, env: { BOSUN_TEST_VALUE: ${m} } }\n`,
        );
        const started = await cli(['start'], { cwd: p.dir });
        assert.equal(started.code, 0, started.stderr);
        await waitFor('the program to print', () => existsSync(log) && readFileSync(log, 'utf8').includes('count 3'));
        const pid = (await row()).pid;
        fill(filler);
        const failing = await waitFor('status to report the log error', async () => {
          const r = await row();
          return r.logError !== undefined ? r : undefined;
        });
        assert.match(failing.logError!, /ENOSPC/);
        assert.equal(failing.pid, pid, 'the program was not restarted');
        assert.equal(failing.state, 'running');
        const stuckAt = statSync(log).size;
        rmSync(filler);
        const healed = await waitFor('the error to go once there is space', async () => {
          const r = await row();
          return r.logError === undefined ? r : undefined;
        });
        assert.equal(healed.pid, pid);
        await waitFor('the log to grow again', () => statSync(log).size > stuckAt);
        assert.match(readFileSync(log, 'utf8'), /bytes of output were dropped/);
      } finally {
        await cli(['shutdown', '--home', home]);
        for (const pid of processesWith(m)) process.kill(pid, 'SIGKILL');
        execFileSync('umount', [home]);
        p.cleanup();
      }
    },
  );
});
