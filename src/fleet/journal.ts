// What happened to one program instance lately, for live views (the dashboard): its output with
// a marker line at each lifecycle event, in one ring that spans restarts, so a crash's last
// lines stay in view followed by the exit that ended them; and its recent lifecycle events with
// the reason each carried (the restart timeline). The monitor's own tail is per run and ends
// with it; this outlives runs (and reloads) for as long as the fleet keeps the instance.
//
// Every entry has a sequence number, so a view asks only for what it has not seen. Bounded:
// at most JOURNAL_LINES lines and JOURNAL_CHARS characters of them (a longer line is cut at
// JOURNAL_LINE_CHARS), and JOURNAL_EVENTS events. The log file keeps everything.

import type { StreamName } from '../process/output.js';
import type { EventName, LifecycleEvent, Reason } from './status.js';

export const JOURNAL_LINES = 500;
export const JOURNAL_CHARS = 128 * 1024;
export const JOURNAL_LINE_CHARS = 8 * 1024;
export const JOURNAL_EVENTS = 200;

/** One line of output, or (stream `event`) the marker of a lifecycle event. */
export interface JournalLine {
  seq: number;
  /** Epoch ms when the fleet saw it. */
  at: number;
  stream: StreamName | 'event';
  text: string;
  /** Markers only: which event, and on events that end a run, why it ended. */
  event?: EventName;
  reason?: Reason;
}

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
  readonly #lines = new SeqRing<JournalLine>();
  readonly #events = new SeqRing<JournalEvent>();
  #chars = 0;

  /** A line of the instance's output (without its newline). */
  line(stream: StreamName, text: string, at: number): void {
    this.#add({ seq: this.#lines.nextSeq, at, stream, text: cut(text) });
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
    const marker: JournalLine = { seq: this.#lines.nextSeq, at: e.at, stream: 'event', text: cut(text), event: e.event };
    if (entry.reason !== undefined) marker.reason = entry.reason;
    this.#add(marker);
  }

  /** Lines (and markers) after `seq`, oldest first; all that are kept for -1. */
  linesSince(seq = -1): JournalLine[] {
    return this.#lines.since(seq);
  }

  eventsSince(seq = -1): JournalEvent[] {
    return this.#events.since(seq);
  }

  /** The sequence number of the newest line, -1 before the first. */
  get lastLineSeq(): number {
    return this.#lines.nextSeq - 1;
  }

  get lastEventSeq(): number {
    return this.#events.nextSeq - 1;
  }

  #add(l: JournalLine): void {
    this.#lines.push(l);
    this.#chars += l.text.length;
    while (this.#lines.size > JOURNAL_LINES || (this.#chars > JOURNAL_CHARS && this.#lines.size > 1)) this.#chars -= this.#lines.shift()!.text.length;
  }
}

function cut(text: string): string {
  return text.length <= JOURNAL_LINE_CHARS ? text : `${text.slice(0, JOURNAL_LINE_CHARS)} … (${text.length - JOURNAL_LINE_CHARS} more characters in the log file)`;
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
