// The daemon's death is not the fleet's (DESIGN, cli): after a SIGKILL of the daemon its
// programs keep running and printing; the next daemon on the same home adopts every one still
// running (same pid), starts only what died meanwhile, loses none of their output, and a
// shutdown leaves nothing behind.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cli, processesWith, prog, tempProject, waitFor, type Status } from './helpers.js';

const alive = (pid: number) => {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
};

/** Processes carrying `mark`, the daemons aside (a detached daemon is handed its parsed config, mark included). */
function programsWith(mark: string): number[] {
  return processesWith(mark).filter((pid) => {
    try {
      return !readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('cli/main.js');
    } catch {
      return false;
    }
  });
}

async function status(cwd: string): Promise<Status> {
  const r = await cli(['status', '--json'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
}

describe('daemon death', () => {
  test('SIGKILL of the daemon: programs live on; the next daemon adopts them, restarts the dead one, loses no output; shutdown leaves nothing', async () => {
    const p = tempProject('');
    // Not the project's path, which the daemon's own command line holds.
    const mark = `adoption-${process.pid}-${Date.now()}`;
    const env = `env: { BOSUN_TEST_MARK: "${mark}" }`;
    p.write(`dashboard: false
programs:
  tree: { command: ${prog('--grandchild')}, ${env} }
  stubborn: { command: ${prog('--ignore-term')}, killTimeout: 500ms, ${env} }
  printer: { command: ${prog('--count', 50)}, ${env} }
  plain: { command: ${prog()}, ${env} }
  doomed: { command: ${prog()}, ${env} }
`);
    try {
      assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
      const allUp = (s: Status) => s.programs.length === 5 && s.programs.every((x) => x.pid !== null && x.state === 'running');
      const before = await waitFor('all five running', async () => {
        const s = await status(p.dir);
        return allUp(s) ? s : undefined;
      });
      // tree is three processes (its child in a session of its own, and that one's child).
      await waitFor('seven processes', () => programsWith(mark).length === 7);
      const pid = (s: Status, name: string) => s.programs.find((x) => x.name === name)!.pid!;
      const daemon = Number(readFileSync(join(p.home, 'bosun.pid'), 'utf8').trim());
      process.kill(daemon, 'SIGKILL');
      await waitFor('the daemon to be gone', () => !alive(daemon));
      assert.equal((await cli(['status'], { cwd: p.dir })).code, 3, 'no daemon answers');
      process.kill(pid(before, 'doomed'), 'SIGKILL');
      // The programs go on without a daemon: the printer keeps printing into a pipe nobody reads.
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline) {
        assert.ok(alive(pid(before, 'printer')), 'the printer is alive without its daemon');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(programsWith(mark).length, 6, 'all but doomed still run');

      assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
      const after = await waitFor('all five running again', async () => {
        const s = await status(p.dir);
        return allUp(s) ? s : undefined;
      });
      for (const name of ['tree', 'stubborn', 'printer', 'plain']) assert.equal(pid(after, name), pid(before, name), `${name} was adopted`);
      assert.notEqual(pid(after, 'doomed'), pid(before, 'doomed'), 'doomed, dead meanwhile, was started anew');
      assert.equal(programsWith(mark).length, 7, 'each program runs exactly once');

      // No gap in the printer's counter: what it printed while no daemon ran reached its log.
      const log = join(p.home, 'logs', 'printer-0.log');
      await waitFor(
        'the printer to print after adoption',
        () =>
          readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('count ')).length > 80,
      );
      const counts = readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('count '))
        .map((l) => Number(l.slice(6)));
      counts.forEach((n, i) => assert.equal(n, i + 1, `line ${i + 1} of the printer's log says count ${n}`));

      const shut = await cli(['shutdown'], { cwd: p.dir });
      assert.equal(shut.code, 0, shut.stderr);
      assert.deepEqual(programsWith(mark), [], 'nothing of any tree is left');
      assert.equal(existsSync(join(p.home, 'bosun.pid')), false);
    } finally {
      await cli(['shutdown', '--home', p.home]).catch(() => undefined);
      for (const pid of processesWith(mark)) process.kill(pid, 'SIGKILL');
      p.cleanup();
    }
  });

  test('a program whose config changed while no daemon ran is stopped first, then started anew; the unchanged one is adopted', async () => {
    const p = tempProject('');
    const mark = `adoption-changed-${process.pid}-${Date.now()}`;
    const conf = (value: string) => `dashboard: false
programs:
  same: { command: ${prog()}, env: { BOSUN_TEST_MARK: "${mark}" } }
  edited: { command: ${prog('--ignore-term')}, killTimeout: 300ms, env: { BOSUN_TEST_MARK: "${mark}", BOSUN_TEST_VALUE: "${value}" } }
`;
    p.write(conf('one'));
    try {
      assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
      const up = (s: Status) => s.programs.length === 2 && s.programs.every((x) => x.pid !== null);
      const before = await waitFor('both running', async () => {
        const s = await status(p.dir);
        return up(s) ? s : undefined;
      });
      const pid = (s: Status, name: string) => s.programs.find((x) => x.name === name)!.pid!;
      process.kill(Number(readFileSync(join(p.home, 'bosun.pid'), 'utf8').trim()), 'SIGKILL');
      await waitFor('no daemon', async () => (await cli(['status'], { cwd: p.dir })).code === 3);
      p.write(conf('two'));
      assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
      const after = await waitFor('both running again', async () => {
        const s = await status(p.dir);
        return up(s) && pid(s, 'edited') !== pid(before, 'edited') ? s : undefined;
      });
      assert.equal(pid(after, 'same'), pid(before, 'same'), 'the unchanged program was adopted');
      assert.ok(
        !alive(pid(before, 'edited')),
        'the old copy of the changed program is gone (it ignores SIGTERM: SIGKILL after killTimeout)',
      );
      assert.equal(programsWith(mark).length, 2, 'one copy of each');
      const logs = await cli(['logs', 'edited', '-n', '50'], { cwd: p.dir });
      assert.match(logs.stdout, /env=two/);
    } finally {
      await cli(['shutdown', '--home', p.home]).catch(() => undefined);
      for (const pid of processesWith(mark)) process.kill(pid, 'SIGKILL');
      p.cleanup();
    }
  });
});

test('a run the dead daemon started but never recorded is stopped, then started anew: one copy, not two', async () => {
  const p = tempProject('');
  const mark = `adoption-unrecorded-${process.pid}-${Date.now()}`;
  p.write(`dashboard: false
programs:
  kept: { command: ${prog('--grandchild')}, env: { BOSUN_TEST_MARK: "${mark}" } }
  lost: { command: ${prog()}, instances: 2, env: { BOSUN_TEST_MARK: "${mark}" } }
`);
  try {
    assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
    const up = (s: Status) => s.programs.length === 3 && s.programs.every((x) => x.pid !== null && x.state === 'running');
    const before = await waitFor('all three running', async () => {
      const s = await status(p.dir);
      return up(s) ? s : undefined;
    });
    await waitFor('five processes', () => programsWith(mark).length === 5);
    process.kill(Number(readFileSync(join(p.home, 'bosun.pid'), 'utf8').trim()), 'SIGKILL');
    await waitFor('no daemon', async () => (await cli(['status'], { cwd: p.dir })).code === 3);
    // As if the daemon had died between spawning lost[1] and recording it.
    const file = join(p.home, 'run', 'instances.json');
    const state = JSON.parse(readFileSync(file, 'utf8')) as { instances: { program: string; index: number }[] };
    state.instances = state.instances.filter((e) => !(e.program === 'lost' && e.index === 1));
    writeFileSync(file, JSON.stringify(state));
    const pidOf = (s: Status, name: string, instance: number) => s.programs.find((x) => x.name === name && x.instance === instance)!.pid!;
    const unrecorded = pidOf(before, 'lost', 1);

    assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
    const after = await waitFor('all three running again', async () => {
      const s = await status(p.dir);
      return up(s) ? s : undefined;
    });
    assert.equal(pidOf(after, 'kept', 0), pidOf(before, 'kept', 0), 'the recorded run is adopted, its own-session grandchild untouched');
    assert.equal(pidOf(after, 'lost', 0), pidOf(before, 'lost', 0), 'the recorded instance is adopted');
    assert.notEqual(pidOf(after, 'lost', 1), unrecorded, 'the unrecorded instance runs anew');
    await waitFor('the unrecorded run to be gone', () => !alive(unrecorded));
    assert.equal(programsWith(mark).length, 5, 'each instance runs exactly once');
  } finally {
    await cli(['shutdown', '--home', p.home]).catch(() => undefined);
    for (const pid of processesWith(mark)) process.kill(pid, 'SIGKILL');
    p.cleanup();
  }
});

test('a program that died while no daemon ran: what it left in its session and in a session of its own is stopped before it starts anew', async () => {
  const p = tempProject('');
  const mark = `adoption-orphans-${process.pid}-${Date.now()}`;
  p.write(`dashboard: false
programs:
  leaver: { command: ${prog('--session-child')}, env: { BOSUN_TEST_MARK: "${mark}" } }
  departer: { command: ${prog('--grandchild')}, env: { BOSUN_TEST_MARK: "${mark}" } }
`);
  try {
    assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
    const running = async () => {
      const s = await status(p.dir);
      return s.programs.length === 2 && s.programs.every((x) => x.pid !== null && x.state === 'running') ? s : undefined;
    };
    const pids = (s: Status) => s.programs.map((x) => x.pid!);
    const before = await waitFor('both running', running);
    // leaver and its child in its session; departer, its child in a session of its own and that one's child.
    await waitFor('five processes', () => programsWith(mark).length === 5);
    process.kill(Number(readFileSync(join(p.home, 'bosun.pid'), 'utf8').trim()), 'SIGKILL');
    await waitFor('no daemon', async () => (await cli(['status'], { cwd: p.dir })).code === 3);
    for (const pid of pids(before)) process.kill(pid, 'SIGKILL');
    await waitFor('both programs gone', () => pids(before).every((pid) => !alive(pid)));
    const orphans = programsWith(mark);
    assert.equal(orphans.length, 3, 'their three descendants outlive them');

    assert.equal((await cli(['start'], { cwd: p.dir })).code, 0);
    const after = await waitFor('both running anew', async () => {
      const s = await running();
      return s !== undefined && pids(s).every((pid) => !pids(before).includes(pid)) ? s : undefined;
    });
    assert.equal(after.programs.length, 2);
    await waitFor('the orphans gone', () => orphans.every((pid) => !alive(pid)));
    await waitFor('one tree of each', () => programsWith(mark).length === 5);
  } finally {
    await cli(['shutdown', '--home', p.home]).catch(() => undefined);
    for (const pid of processesWith(mark)) process.kill(pid, 'SIGKILL');
    p.cleanup();
  }
});
