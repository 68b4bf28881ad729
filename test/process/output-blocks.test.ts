// monitorProcess's onOutput: each chunk's complete lines in one call, the same lines onLine
// gets one by one (a carriage return left in), a line without a newline once partialLineMs
// has passed, and every line exactly once however the output is chunked.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { monitorProcess } from '../../src/process/index.js';
import { TestClock } from '../../src/testing/index.js';
import { until, withTempDir } from './helpers.js';

test('onOutput gets the lines onLine gets, whole lines per call, each once, in order', async () => {
  const blocks: { stream: string; text: string }[] = [];
  const lines: { stream: string; text: string }[] = [];
  const m = monitorProcess({
    // One write of 5,000 lines: the pipe hands it over in a few chunks however fast we read.
    command: process.execPath,
    args: [
      '-e',
      'let s = ""; for (let i = 0; i < 5000; i++) s += "out " + i + "\\n"; process.stdout.write(s + "crlf\\r\\n"); process.stderr.write("err line\\n");',
    ],
    onOutput: (stream, text) => blocks.push({ stream, text }),
    onLine: (stream, text) => lines.push({ stream, text }),
  });
  await m.wait();
  assert.ok(
    blocks.every((b) => b.text.endsWith('\n')),
    'every block ends with a newline',
  );
  const fromBlocks = blocks.flatMap((b) =>
    b.text
      .slice(0, -1)
      .split('\n')
      .map((text) => ({ stream: b.stream, text: text.replace(/\r$/, '') })),
  );
  assert.deepEqual(fromBlocks, lines, 'the same lines as onLine, once each');
  assert.ok(blocks.length < lines.length / 10, `lines come many to a call: ${blocks.length} calls for ${lines.length} lines`);
  assert.ok(
    blocks.some((b) => b.text.includes('crlf\r\n')),
    'a carriage return is left in',
  );
  assert.deepEqual(
    lines.filter((l) => l.stream === 'stderr').map((l) => l.text),
    ['err line'],
  );
});

test('a line without a newline reaches onOutput, newline added, after partialLineMs', () =>
  withTempDir('blocks', async (dir) => {
    const clock = new TestClock();
    const blocks: string[] = [];
    const logFile = join(dir, 'prompt.log');
    const m = monitorProcess({
      command: 'sh',
      args: ['-c', 'printf "password: "; exec sleep 30'],
      clock,
      logFile,
      onOutput: (_s, text) => blocks.push(text),
    });
    // In the log once read: from then on only the clock decides.
    await until(() => existsSync(logFile) && readFileSync(logFile, 'utf8') === 'password: ', 'the prompt read');
    await clock.advance(199);
    assert.deepEqual(blocks, []);
    await clock.advance(1);
    await until(() => blocks.length === 1, 'the prompt', 2000);
    assert.deepEqual(blocks, ['password: \n']);
    m.kill();
    await m.wait();
    assert.deepEqual(blocks, ['password: \n'], 'not given twice');
  }));
