// What happened to one program instance lately, for live views (the dashboard): its output with
// a marker line at each lifecycle event, in one ring that spans restarts, so a crash's last
// lines stay in view followed by the exit that ended them; and its recent lifecycle events with
// the reason each carried (the restart timeline). The monitor's own tail is per run and ends
// with it; this outlives runs (and reloads) for as long as the fleet keeps the instance.
//
// Every entry has a sequence number, so a view asks only for what it has not seen. Bounded:
// at most JOURNAL_LINES lines and JOURNAL_CHARS characters of them (a longer line is cut at
// JOURNAL_LINE_CHARS), and JOURNAL_EVENTS events. The log file keeps everything.
//
// Everything a program prints passes through here, watched or not, so taking output costs one
// call and one small record a chunk, never one a line: the fleet hands over each chunk's
// complete lines as one string (monitorProcess's onOutput), kept as it came; lines are cut
// apart, and entry objects made, only when a view reads. Output lines carry no time.

import type { StreamName } from '../process/output.js';
import type { EventName, LifecycleEvent, Reason } from './status.js';

export const JOURNAL_LINES = 500;
export const JOURNAL_CHARS = 128 * 1024;
export const JOURNAL_LINE_CHARS = 8 * 1024;
export const JOURNAL_EVENTS = 200;

/** One line of output, or (stream `event`) the marker of a lifecycle event. */
export interface JournalLine {
  seq: number;
  stream: StreamName | 'event';
  text: string;
  /** Markers only: when (epoch ms), which event, and on events that end a run, why it ended. */
  at?: number;
  event?: EventName;
  reason?: Reason;
}

type Marker = Pick<JournalLine, 'at' | 'event' | 'reason'>;

const STREAMS = ['stdout', 'stderr', 'event'] as const;

export interface JournalEvent extends LifecycleEvent {
  seq: number;
  /** On `exited`, `failed` and `stopped`: why the run ended (status's `reason`)... */
  reason?: Reason;
  /** ...and in a sentence (status's `detail`). */
  detail?: string;
}

/** Events that end a run, and so carry the reason it ended. */
const ENDS_RUN = new Set<EventName>(['exited', 'failed', 'stopped']);

export class InstanceJournal {
  /** Output as it came, oldest first from #head: each block the complete lines of one chunk. */
  #blocks: (Block | undefined)[] = [];
  #head = 0;
  /** The seq the next line gets. */
  #next = 0;
  #chars = 0;
  /** Marker details by seq, for the markers still kept. */
  readonly #markers = new Map<number, Marker>();
  readonly #events = new SeqRing<JournalEvent>();

  /** Complete lines of the instance's output, each followed by a newline (as a BlockListener gets them). */
  lines(stream: StreamName, text: string): void {
    if (text.length > JOURNAL_CHARS) {
      // More than is kept at all: only the lines that fit, numbered as if all had been.
      const from = text.indexOf('\n', text.length - JOURNAL_CHARS - 1) + 1;
      if (from > 0 && from < text.length) {
        this.#next += countLines(text, from);
        text = text.slice(from);
      }
    }
    const count = countLines(text, text.length);
    if (count > 0) this.#push({ first: this.#next, count, stream: stream === 'stdout' ? 0 : 1, text });
  }

  /** A lifecycle event: kept for the timeline and marked in the output. `reason`/`detail` are kept on events that end a run. */
  event(e: LifecycleEvent, reason?: Reason, detail?: string): void {
    const entry: JournalEvent = { ...e, seq: this.#events.nextSeq };
    const ends = ENDS_RUN.has(e.event);
    if (ends && reason !== undefined) entry.reason = reason;
    if (ends && detail !== undefined) entry.detail = detail;
    this.#events.push(entry);
    if (this.#events.size > JOURNAL_EVENTS) this.#events.shift();
    let text = e.details === '' ? e.event : `${e.event} ${e.details}`;
    // `failed` says its reason and detail in its details already.
    if (e.event === 'exited' && reason !== undefined) text += ` (${reason}${detail === undefined ? '' : `: ${detail}`})`;
    const marker: Marker = { at: e.at, event: e.event };
    if (entry.reason !== undefined) marker.reason = entry.reason;
    this.#markers.set(this.#next, marker);
    this.#push({ first: this.#next, count: 1, stream: 2, text: `${text.replace(/\r?\n/g, ' ')}\n` });
  }

  /** Lines (and markers) after `seq`, oldest first; all that are kept for -1. At most JOURNAL_LINES. */
  linesSince(seq = -1): JournalLine[] {
    const from = Math.max(seq + 1, this.#firstKept());
    const out: JournalLine[] = [];
    for (let i = this.#head; i < this.#blocks.length; i++) {
      const b = this.#blocks[i]!;
      if (b.first + b.count <= from) continue;
      const stream = STREAMS[b.stream]!;
      for (let n = b.first, pos = 0; pos < b.text.length; n++) {
        const nl = b.text.indexOf('\n', pos);
        if (n >= from) {
          let text = b.text.slice(pos, nl);
          if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
          const l: JournalLine = { seq: n, stream, text: cut(text) };
          const m = stream === 'event' ? this.#markers.get(n) : undefined;
          if (m !== undefined) Object.assign(l, m);
          out.push(l);
        }
        pos = nl + 1;
      }
    }
    return out;
  }

  eventsSince(seq = -1): JournalEvent[] {
    return this.#events.since(seq);
  }

  /** The sequence number of the newest line, -1 before the first. */
  get lastLineSeq(): number {
    return this.#next - 1;
  }

  get lastEventSeq(): number {
    return this.#events.nextSeq - 1;
  }

  /** The oldest line kept: of the blocks kept, at most the last JOURNAL_LINES lines. */
  #firstKept(): number {
    const oldest = this.#blocks[this.#head];
    return Math.max(oldest?.first ?? this.#next, this.#next - JOURNAL_LINES);
  }

  #push(b: Block): void {
    this.#blocks.push(b);
    this.#chars += b.text.length;
    this.#next += b.count;
    // Whole blocks go: those older than the last JOURNAL_LINES lines, and the oldest while over JOURNAL_CHARS (the newest stays).
    for (;;) {
      const oldest = this.#blocks[this.#head]!;
      if (this.#head === this.#blocks.length - 1) break;
      if (oldest.first + oldest.count > this.#next - JOURNAL_LINES && this.#chars <= JOURNAL_CHARS) break;
      this.#chars -= oldest.text.length;
      if (oldest.stream === 2) this.#markers.delete(oldest.first);
      // Let go of it now: a slot that still held it would keep its text (and the chunk it came in) alive.
      this.#blocks[this.#head++] = undefined;
    }
    // Compacted now and then rather than shifted each time: a shift moves every element.
    if (this.#head >= 64 && this.#head * 2 >= this.#blocks.length) {
      this.#blocks = this.#blocks.slice(this.#head);
      this.#head = 0;
    }
  }
}

interface Block {
  /** Seq of its first line. */
  first: number;
  count: number;
  /** Index into STREAMS. */
  stream: 0 | 1 | 2;
  /** `count` lines, each followed by a newline. */
  text: string;
}

/** Newlines in text before `end`. */
function countLines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function cut(text: string): string {
  return text.length <= JOURNAL_LINE_CHARS
    ? text
    : `${text.slice(0, JOURNAL_LINE_CHARS)} … (${text.length - JOURNAL_LINE_CHARS} more characters in the log file)`;
}

/** Entries numbered 0, 1, 2, … in push order; the oldest leave first, so `since` is a slice. */
class SeqRing<T extends { seq: number }> {
  #items: (T | undefined)[] = [];
  #head = 0;
  nextSeq = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
    this.nextSeq++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.#items[this.#head]!;
    // Let go of it now: a left slot that still held it would keep its text (and the chunk it was cut from) alive.
    this.#items[this.#head] = undefined;
    this.#head++;
    // Compacted now and then rather than shifted each time: a shift moves every element.
    if (this.#head >= 256 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  since(seq: number): T[] {
    if (this.size === 0) return [];
    const first = this.#items[this.#head]!.seq;
    return this.#items.slice(this.#head + Math.max(0, seq + 1 - first)) as T[];
  }
}
