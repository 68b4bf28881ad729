// The dashboard's event stream from a real daemon: one snapshot (status, program details, each
// instance's journal, events and samples), then updates that carry only what is new, so every
// line arrives once and none is missing; lifecycle events with their reasons; program details
// again after a reload; a later client's snapshot holds what came before it connected.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cli, prog, startDaemon, tempProject, waitFor } from './helpers.js';

interface Line {
  seq: number;
  stream: string;
  text: string;
  event?: string;
}
interface Ev {
  seq: number;
  event: string;
  details: string;
  reason?: string;
}
interface Part {
  lines?: Line[];
  events?: Ev[];
  samples?: { at: number[]; cpu: number[]; memory: number[] };
}
interface Msg {
  type: string;
  data: {
    status: { programs: { name: string; instance: number; pid: number | null }[] };
    programs?: { name: string; envKeys: string[]; command: string[] }[];
    instances: Record<string, Part>;
    epoch?: number;
  };
}

/** A client of /api/events: its messages so far, parsed; close() ends it. */
function subscribe(base: string, token: string): { msgs: Msg[]; close(): Promise<void> } {
  const msgs: Msg[] = [];
  const ac = new AbortController();
  const done = (async () => {
    const r = await fetch(`${base}api/events`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    assert.equal(r.status, 200);
    let buf = '';
    const dec = new TextDecoder();
    for await (const chunk of r.body!) {
      buf += dec.decode(chunk as Uint8Array, { stream: true });
      for (let i; (i = buf.indexOf('\n\n')) >= 0;) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        // `lifecycle` events (one per event line, for scripts) are not what the page reads.
        if ((type === 'snapshot' || type === 'update') && data !== '') msgs.push({ type, data: JSON.parse(data) as Msg['data'] });
      }
    }
  })().catch((err: unknown) => {
    if (!ac.signal.aborted) throw err;
  });
  return {
    msgs,
    close: async () => {
      ac.abort();
      await done;
    },
  };
}

/** Every line of `key` the client got, each seq once (a snapshot may overlap the next update), in order. */
function linesOf(msgs: Msg[], key: string): Line[] {
  const bySeq = new Map<number, Line>();
  for (const m of msgs) for (const l of m.data.instances[key]?.lines ?? []) bySeq.set(l.seq, l);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

test(
  'a snapshot, then updates with only what is new: every line once, none missing, quiet instances send none',
  { timeout: 90_000 },
  async () => {
    const p = tempProject(`dashboard: { port: 0 }
supervisor: { backoff: { initial: 100ms } }
programs:
  counter: { command: ${prog('--count', 50)}, env: { FEED_KEY: not-sent } }
  quiet: { command: ${prog('--say', 'said once')} }
`);
    const d = await startDaemon(p.dir, p.home);
    const subs: { close(): Promise<void> }[] = [];
    try {
      const base = d.lines[await d.line(/^dashboard http:\/\/127\.0\.0\.1:\d+\/$/)]!.split(' ')[1]!;
      const token = readFileSync(`${p.home}/token`, 'utf8').trim();
      await d.until('both running', (s) => s.programs.every((x) => x.pid !== null));
      const a = subscribe(base, token);
      subs.push(a);
      await waitFor('a snapshot and five updates', () => a.msgs.length >= 6);

      const [snap, ...updates] = a.msgs;
      assert.equal(snap!.type, 'snapshot');
      assert.ok(
        updates.every((m) => m.type === 'update'),
        a.msgs.map((m) => m.type).join(','),
      );
      assert.deepEqual(
        snap!.data.programs!.map((x) => [x.name, x.envKeys]),
        [
          ['counter', ['FEED_KEY']],
          ['quiet', []],
        ],
      );
      assert.equal(JSON.stringify(a.msgs).includes('not-sent'), false, 'env values are never sent');
      assert.ok(
        updates.every((m) => m.data.programs === undefined),
        'program details only in the snapshot while the config stays',
      );
      const first = snap!.data.instances['counter[0]']!;
      assert.equal(first.lines![0]!.event, 'started', 'the journal begins with the start marker');

      // Updates continue exactly where the previous one ended.
      for (let i = 1; i < updates.length; i++) {
        const prev = updates
          .slice(0, i)
          .flatMap((m) => m.data.instances['counter[0]']?.lines ?? [])
          .at(-1);
        const next = updates[i]!.data.instances['counter[0]']?.lines?.[0];
        if (prev !== undefined && next !== undefined) assert.equal(next.seq, prev.seq + 1, `update ${i} continues the one before`);
      }
      // Together with the snapshot: every count once, in order, none missing.
      const counts = linesOf(a.msgs, 'counter[0]')
        .filter((l) => l.stream === 'stdout' && l.text.startsWith('count '))
        .map((l) => Number(l.text.slice(6)));
      assert.ok(counts.length >= 20, `enough lines: ${counts.length}`);
      assert.deepEqual(
        counts,
        counts.map((_, i) => counts[0]! + i),
        'consecutive counts, none twice or missing',
      );
      const seqs = linesOf(a.msgs, 'counter[0]').map((l) => l.seq);
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i),
        'sequence numbers 0, 1, 2, ... with no gap',
      );

      // The quiet instance said its line at start: that is in the snapshot, and no update repeats it.
      assert.ok(snap!.data.instances['quiet[0]']!.lines!.some((l) => l.text.endsWith('said once')));
      assert.ok(
        updates.every((m) => m.data.instances['quiet[0]']?.lines === undefined),
        'no lines for an instance that printed nothing new',
      );
      // Samples arrive once a second while a client watches, each only once.
      const at = a.msgs.flatMap((m) => m.data.instances['quiet[0]']?.samples?.at ?? []);
      assert.ok(at.length >= 3, `samples: ${at.length}`);
      assert.deepEqual(
        at,
        [...new Set(at)].sort((x, y) => x - y),
        'sample times strictly increase',
      );

      // A crash: its events come with the reason; the next run's lines follow in the same journal.
      const from = d.lines.length;
      const row = (await d.status()).programs.find((x) => x.name === 'counter')!;
      process.kill(row.pid!, 'SIGKILL');
      await d.line(/counter\[0\] started pid=/, 15_000, from);
      await waitFor(
        'the new run printing',
        () =>
          linesOf(a.msgs, 'counter[0]').filter((l) => l.event === 'started').length === 2 &&
          linesOf(a.msgs, 'counter[0]').at(-1)!.stream === 'stdout',
      );
      const events = a.msgs.flatMap((m) => m.data.instances['counter[0]']?.events ?? []);
      const exited = events.find((e) => e.event === 'exited');
      assert.deepEqual([exited?.details, exited?.reason], ['code=null signal=SIGKILL', 'signal']);
      assert.ok(events.some((e) => e.event === 'restarting'));
      const marks = linesOf(a.msgs, 'counter[0]')
        .filter((l) => l.stream === 'event')
        .map((l) => l.event);
      assert.deepEqual(marks, ['started', 'exited', 'restarting', 'started']);

      // A reload that changes the config: the next update carries the program details again.
      p.write(`dashboard: { port: 0 }
supervisor: { backoff: { initial: 100ms } }
programs:
  counter: { command: ${prog('--count', 50)}, env: { FEED_KEY: not-sent, OTHER_KEY: x } }
  quiet: { command: ${prog('--say', 'said once')} }
`);
      const r = await cli(['reload', '--home', p.home]);
      assert.equal(r.code, 0, r.stderr);
      const withPrograms = await waitFor('an update with program details', () =>
        a.msgs.find((m) => m.type === 'update' && m.data.programs !== undefined),
      );
      assert.deepEqual(withPrograms.data.programs!.find((x) => x.name === 'counter')!.envKeys, ['FEED_KEY', 'OTHER_KEY']);

      // A later client's snapshot holds the journal from the start, the crash included.
      const b = subscribe(base, token);
      subs.push(b);
      await waitFor('the second snapshot', () => b.msgs.length >= 1);
      assert.equal(b.msgs[0]!.type, 'snapshot');
      assert.equal(b.msgs[0]!.data.epoch, snap!.data.epoch, 'the same dashboard');
      const bLines = b.msgs[0]!.data.instances['counter[0]']!.lines!;
      assert.equal(bLines[0]!.seq, 0);
      assert.ok(
        bLines.some((l) => l.event === 'exited'),
        'the crash is in a later snapshot too',
      );
    } finally {
      for (const s of subs) await s.close();
      await d.stop();
      p.cleanup();
    }
  },
);
