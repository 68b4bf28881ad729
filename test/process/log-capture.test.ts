// Output capture under load: every line of a child printing 100 MB reaches the log file while
// the parent's memory stays bounded, and size rotation keeps the configured number of files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorProcess } from '../../src/process/index.js';
import { node, procFixture } from './helpers.js';

const LINE = 100; // bytes per line the flood fixture prints

test('every line of a 100 MB flood reaches the log file and parent RSS grows less than 50 MB', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bosun-log-'));
  try {
    const path = join(dir, 'out.log');
    let lines = 0;
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const m = monitorProcess({ command: node, args: [procFixture, 'flood', '100'], logFile: path, onLine: () => void lines++ });
    await m.wait();
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const expectedLines = (100 * 1024 * 1024) / LINE;
    assert.equal(lines, expectedLines + 1);
    assert.equal(m.tail().at(-1), `done ${expectedLines}`);
    const size = (await stat(path)).size;
    assert.equal(size, expectedLines * LINE + `done ${expectedLines}\n`.length);
    const growthMb = (peak - baseline) / (1024 * 1024);
    assert.ok(growthMb < 50, `parent RSS grew ${growthMb.toFixed(1)} MB`);
    t.diagnostic(`parent RSS growth during the flood: ${growthMb.toFixed(1)} MB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('size rotation keeps the configured number of files and loses no line among them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bosun-rot-'));
  try {
    const path = join(dir, 'app.log');
    const maxSize = 512 * 1024;
    const m = monitorProcess({ command: node, args: [procFixture, 'flood', '4'], logFile: { path, maxSize, keep: 2 } });
    await m.wait();
    assert.deepEqual((await readdir(dir)).sort(), ['app.log', 'app.log.1', 'app.log.2']);
    const text = (await readFile(`${path}.2`, 'utf8')) + (await readFile(`${path}.1`, 'utf8')) + (await readFile(path, 'utf8'));
    for (const f of [path, `${path}.1`, `${path}.2`]) assert.ok((await stat(f)).size <= maxSize, `${f} is over maxSize`);
    // The kept files hold one unbroken run of numbered lines ending with the last one.
    const numbered = text
      .split('\n')
      .filter((l) => /^\d{10} /.test(l))
      .map((l) => Number(l.slice(0, 10)));
    assert.ok(numbered.length > 1000);
    numbered.forEach((n, i) => assert.equal(n, numbered[0]! + i, `line ${i} breaks the run`));
    const total = Math.floor((4 * 1024 * 1024) / LINE);
    assert.equal(numbered.at(-1), total - 1);
    assert.ok(text.endsWith(`done ${total}\n`));
    // With no line listener the ring still holds exactly the last 100 lines.
    const tail = m.tail();
    assert.equal(tail.length, 100);
    assert.equal(tail.at(-1), `done ${total}`);
    tail.slice(0, -1).forEach((l, i) => assert.equal(Number(l.slice(0, 10)), total - 99 + i));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
