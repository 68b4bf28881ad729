// `bosun status` as a table for people; `--json` prints the StatusBody itself for scripts.

import type { StatusBody } from './daemon.js';
import { formatDuration, formatSize } from '../fleet/units.js';

export function statusTable(body: StatusBody): string {
  const header = ['name', 'id', 'pid', 'state', 'uptime', 'restarts', 'cpu', 'memory', 'last exit / reason'];
  const rows = body.programs.map((p) => [
    p.name,
    String(p.instance),
    p.pid === null ? '-' : String(p.pid),
    p.state,
    p.pid === null ? '-' : formatDuration(p.uptimeMs),
    String(p.restarts),
    p.pid === null ? '-' : `${p.cpuPercent.toFixed(1)}%`,
    p.pid === null ? '-' : formatSize(p.memoryBytes),
    p.state === 'waiting' && p.waitingFor !== undefined && p.waitingFor.length > 0
      ? `waiting for ${p.waitingFor.join(', ')}`
      : (p.detail ?? p.reason ?? (p.lastExit === undefined ? '' : `code=${p.lastExit.code} signal=${p.lastExit.signal} at ${p.lastExit.at}`)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
