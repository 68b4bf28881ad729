// What the dashboard's event stream says. A client first gets one `snapshot`: the status, the
// program details, and for every instance its journal (output with lifecycle markers, across
// restarts), its recent lifecycle events and its CPU and memory samples. Then `update`s: the
// status and only what is new since the previous update, so an update costs what changed, not
// the whole history. Updates are the same bytes for every client (server.ts shares one Buffer),
// so the cursors are the feed's, not a client's: a snapshot may overlap the next update, and the
// page drops what it already has by sequence number (lines, events) or time (samples).

import type { DaemonConfig } from '../../fleet/config.js';
import type { JournalEvent, JournalLine } from '../../fleet/journal.js';
import type { StatusBody } from '../../fleet/status.js';
import type { DaemonView } from '../daemon.js';
import { programInfos, type ProgramInfo } from './programs.js';

export interface Samples {
  /** Epoch ms of each sample, oldest first. */
  at: number[];
  cpu: number[];
  memory: number[];
}

export interface InstanceFeed {
  lines: JournalLine[];
  events: JournalEvent[];
  samples: Samples;
}

export interface Snapshot {
  /** When this dashboard started: a page that sees another epoch starts over. */
  epoch: number;
  /** The daemon's clock, for charts drawn against it rather than the browser's. */
  now: number;
  status: StatusBody;
  programs: ProgramInfo[];
  /** Keyed `name[index]`, as status rows are. */
  instances: Record<string, InstanceFeed>;
  /** The config has a job queue: the page links to the queue page (/queue). */
  queue: boolean;
}

export interface Update {
  now: number;
  status: StatusBody;
  /** Only when the config changed (a reload). */
  programs?: ProgramInfo[];
  /** Only instances with something new, and only the new part. */
  instances: Record<string, Partial<InstanceFeed>>;
}

interface Cursor {
  line: number;
  event: number;
  sampleAt: number;
}

export class Feed {
  readonly epoch = Date.now();
  readonly #daemon: DaemonView;
  readonly #cursors = new Map<string, Cursor>();
  /** The config whose program details the update receivers have. */
  #sentConfig: DaemonConfig | undefined;

  constructor(daemon: DaemonView) {
    this.#daemon = daemon;
  }

  /**
   * Everything, for a client that just connected. `catchUp` (no other client is waiting for
   * updates): the next update starts after this snapshot instead of repeating it.
   */
  snapshot(catchUp: boolean): Snapshot {
    const instances: Record<string, InstanceFeed> = {};
    for (const [key, d] of Object.entries(this.#daemon.details())) {
      const s = d.samples;
      instances[key] = {
        lines: d.journal.linesSince(),
        events: d.journal.eventsSince(),
        samples: { at: [...s.at], cpu: [...s.cpu], memory: [...s.memory] },
      };
      if (catchUp)
        this.#cursors.set(key, { line: d.journal.lastLineSeq, event: d.journal.lastEventSeq, sampleAt: s.at.at(-1) ?? -Infinity });
    }
    if (catchUp) this.#sentConfig = this.#daemon.config;
    return {
      epoch: this.epoch,
      now: Date.now(),
      status: this.#daemon.status(),
      programs: programInfos(this.#daemon.config),
      instances,
      queue: this.#daemon.config.queue !== undefined,
    };
  }

  /** What changed since the previous update (or the catching-up snapshot). */
  update(): Update {
    const instances: Record<string, Partial<InstanceFeed>> = {};
    const details = this.#daemon.details();
    for (const [key, d] of Object.entries(details)) {
      const c = this.#cursors.get(key) ?? { line: -1, event: -1, sampleAt: -Infinity };
      const part: Partial<InstanceFeed> = {};
      const lines = d.journal.linesSince(c.line);
      if (lines.length > 0) part.lines = lines;
      const events = d.journal.eventsSince(c.event);
      if (events.length > 0) part.events = events;
      const s = d.samples;
      let from = s.at.length;
      while (from > 0 && s.at[from - 1]! > c.sampleAt) from--;
      if (from < s.at.length) part.samples = { at: s.at.slice(from), cpu: s.cpu.slice(from), memory: s.memory.slice(from) };
      if (part.lines !== undefined || part.events !== undefined || part.samples !== undefined) instances[key] = part;
      this.#cursors.set(key, { line: d.journal.lastLineSeq, event: d.journal.lastEventSeq, sampleAt: s.at.at(-1) ?? c.sampleAt });
    }
    for (const key of this.#cursors.keys()) if (!(key in details)) this.#cursors.delete(key);
    const out: Update = { now: Date.now(), status: this.#daemon.status(), instances };
    if (this.#daemon.config !== this.#sentConfig) {
      this.#sentConfig = this.#daemon.config;
      out.programs = programInfos(this.#daemon.config);
    }
    return out;
  }
}
