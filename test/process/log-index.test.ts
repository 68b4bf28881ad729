// The log file's index: raw bytes in the log, time, stream and source beside them in <log>.idx,
// rotated together; lines put back together per stream and process even where they
// interleaved mid-line; the last lines read back across rotated files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogFile } from '../../src/process/log-file.js';
import { LineAssembler, indexPath, parseIndex, readIndex, readLastLines, readLastRawLines } from '../../src/process/log-index.js';
import { TestClock } from '../../src/testing/test-clock.js';
import { withTempDir } from './helpers.js';

const text = (lines: { bytes: Buffer }[]) => lines.map((l) => l.bytes.toString());

test('the log stays byte for byte; the index says when, on which stream and from which process', async () => {
  await withTempDir('bosun-log-index-', async (dir) => {
    const clock = new TestClock(Date.parse('2026-05-01T10:00:00Z'));
    const path = join(dir, 'web-0.log');
    const log = new LogFile({ path, index: true, clock });
    log.write('out one\nout tw', { stream: 'stdout', source: 100 });
    log.write('err one\n', { stream: 'stderr', source: 100 });
    log.write('o\n', { stream: 'stdout', source: 100 });
    await clock.advance(5);
    log.write(Buffer.from([0xff, 0xfe, 10]), { stream: 'stdout', source: 100 });
    log.write('same ms, same stream: no new record\n', { stream: 'stdout', source: 100 });
    log.write('from the replacement\n', { stream: 'stdout', source: 200 });
    await log.close();
    const raw = readFileSync(path);
    assert.equal(
      raw.toString('latin1'),
      'out one\nout twerr one\no\n\xff\xfe\nsame ms, same stream: no new record\nfrom the replacement\n',
    );
    const t0 = Date.parse('2026-05-01T10:00:00Z');
    assert.deepEqual(readIndex(path), [
      { offset: 0, time: t0, stream: 'stdout', source: 100 },
      { offset: 14, time: t0, stream: 'stderr', source: 100 },
      { offset: 22, time: t0, stream: 'stdout', source: 100 },
      { offset: 24, time: t0 + 5, stream: 'stdout', source: 100 },
      { offset: 63, time: t0 + 5, stream: 'stdout', source: 200 },
    ]);
    const { lines } = readLastLines(path, 10);
    assert.deepEqual(
      lines.map((l) => [l.stream, l.source, l.time! - t0, l.bytes.toString('latin1')]),
      [
        ['stdout', 100, 0, 'out one'],
        ['stderr', 100, 0, 'err one'],
        ['stdout', 100, 0, 'out two'],
        ['stdout', 100, 5, '\xff\xfe'],
        ['stdout', 100, 5, 'same ms, same stream: no new record'],
        ['stdout', 200, 5, 'from the replacement'],
      ],
    );
    assert.deepEqual(text(readLastLines(path, 2).lines), ['same ms, same stream: no new record', 'from the replacement']);
  });
});

test('rotation takes the index along; -n reads back across rotated files', async () => {
  await withTempDir('bosun-log-index-', async (dir) => {
    const clock = new TestClock(1_000_000);
    const path = join(dir, 'app-0.log');
    const log = new LogFile({ path, index: true, clock, maxSize: 40, keep: 3 });
    for (let i = 0; i < 12; i++) {
      log.write(`line ${String(i).padStart(2, '0')}\n`, { stream: i % 2 === 0 ? 'stdout' : 'stderr', source: 7 });
      await clock.advance(1);
    }
    await log.close();
    // 8-byte lines, 5 a file: 10, 11 | 5..9 | 0..4
    assert.equal(readFileSync(path, 'utf8'), 'line 10\nline 11\n');
    assert.equal(readFileSync(`${path}.1`, 'utf8'), 'line 05\nline 06\nline 07\nline 08\nline 09\n');
    assert.equal(parseIndex(readFileSync(indexPath(`${path}.1`), 'utf8'))[0]!.offset, 0);
    assert.equal(readIndex(`${path}.1`).length, 5);
    const { lines } = readLastLines(path, 9);
    assert.deepEqual(text(lines), ['line 03', 'line 04', 'line 05', 'line 06', 'line 07', 'line 08', 'line 09', 'line 10', 'line 11']);
    assert.deepEqual(
      lines.map((l) => l.time! - 1_000_000),
      [3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
    assert.deepEqual(
      lines.map((l) => l.stream),
      ['stderr', 'stdout', 'stderr', 'stdout', 'stderr', 'stdout', 'stderr', 'stdout', 'stderr'],
    );
    assert.equal(readLastRawLines(path, 3).bytes.toString(), 'line 09\nline 10\nline 11\n');
    assert.equal(readLastLines(path, 100).lines.length, 12);
  });
});

test('a log without an index still reads, its lines without time or stream; records fed as they come', () => {
  const a = new LineAssembler();
  assert.deepEqual(
    a.feed(0, Buffer.from('no index\npart')).map((l) => [l.time, l.stream, l.bytes.toString()]),
    [[undefined, undefined, 'no index']],
  );
  a.addRecords([{ offset: 13, time: 5, stream: 'stderr', source: 1 }]);
  const later = a.feed(13, Buffer.from('err\n'));
  assert.deepEqual(
    later.map((l) => [l.stream, l.bytes.toString()]),
    [['stderr', 'err']],
  );
  assert.deepEqual(
    a.flush().map((l) => l.bytes.toString()),
    ['part'],
  );
});
