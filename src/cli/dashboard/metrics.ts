// Prometheus text exposition of the daemon's status, written by hand: a few gauges do not
// justify loading prom-client into a daemon meant to stay small.

import type { StatusBody } from '../daemon.js';

const STATES = ['starting', 'ready', 'running', 'stopping', 'stopped', 'backoff', 'failed'] as const;

/** The dashboard's own event-stream figures: open now, dropped for falling behind, refused when full. */
export interface StreamCounts {
  open: number;
  dropped: number;
  refused: number;
}

export function metricsText(body: StatusBody, streams?: StreamCounts): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string, value: (p: StatusBody['programs'][number]) => number) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const p of body.programs) out.push(`${name}{program="${esc(p.name)}",instance="${p.instance}"} ${value(p)}`);
  };
  family('bosun_program_up', 'gauge', '1 while the instance has a live process.', (p) => (p.pid === null ? 0 : 1));
  family('bosun_program_restarts_total', 'counter', 'Restarts made by the restart policy (not by command).', (p) => p.restarts);
  family('bosun_program_memory_bytes', 'gauge', 'Resident memory of the instance process tree.', (p) => p.memoryBytes);
  family('bosun_program_cpu_percent', 'gauge', 'CPU use of the instance process tree over the last second.', (p) => p.cpuPercent);
  family('bosun_program_uptime_seconds', 'gauge', 'Seconds since the current process started.', (p) => p.uptimeMs / 1000);
  out.push('# HELP bosun_program_state 1 for the state the instance is in.', '# TYPE bosun_program_state gauge');
  for (const p of body.programs) {
    for (const s of STATES)
      out.push(`bosun_program_state{program="${esc(p.name)}",instance="${p.instance}",state="${s}"} ${p.state === s ? 1 : 0}`);
  }
  if (streams !== undefined) {
    out.push(
      '# HELP bosun_dashboard_event_streams Event streams (GET /api/events) open now.',
      '# TYPE bosun_dashboard_event_streams gauge',
      `bosun_dashboard_event_streams ${streams.open}`,
    );
    out.push(
      '# HELP bosun_dashboard_event_streams_dropped_total Event streams closed because the client fell behind.',
      '# TYPE bosun_dashboard_event_streams_dropped_total counter',
      `bosun_dashboard_event_streams_dropped_total ${streams.dropped}`,
    );
    out.push(
      '# HELP bosun_dashboard_event_streams_refused_total Event streams refused because the most were open.',
      '# TYPE bosun_dashboard_event_streams_refused_total counter',
      `bosun_dashboard_event_streams_refused_total ${streams.refused}`,
    );
  }
  return `${out.join('\n')}\n`;
}

function esc(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
