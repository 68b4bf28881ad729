// `bosun status` as a table for people; `--json` prints the StatusBody itself for scripts.

import type { ProgramStatus, StatusBody } from './daemon.js';
import type { FleetStatusBody } from '../fleet/hosts.js';
import { formatDuration, formatSize } from '../fleet/units.js';

export function statusTable(body: StatusBody): string {
  const header = ['name', 'id', 'pid', 'state', 'uptime', 'restarts', 'cpu', 'memory', 'last exit / reason'];
  const problems = (body.daemonOutput ?? []).map(
    (p) => `daemon output to ${p.target} failing: ${p.error}; ${p.lost} line${p.lost === 1 ? '' : 's'} lost so far`,
  );
  return [table(header, body.programs.map(cells)), ...problems].join('\n');
}

/** `bosun status --fleet`: the hosts, then every instance with its host first. */
export function fleetTable(body: FleetStatusBody): string {
  const hosts = table(
    ['host', 'state', 'machine', 'pid', 'last seen', 'home'],
    body.hosts.map((h) => [
      h.host + (h.host === body.self ? ' *' : ''),
      h.state,
      h.machine,
      String(h.pid),
      `${formatDuration(h.ageMs)} ago`,
      h.home,
    ]),
  );
  const header = ['host', 'name', 'id', 'pid', 'state', 'uptime', 'restarts', 'cpu', 'memory', 'last exit / reason'];
  const rows = body.programs.map((p) => {
    if (p.state !== 'unreachable') return [p.host, ...cells({ ...p, state: p.state })];
    // What an unreachable host last said is history, not a running process.
    return [
      p.host,
      p.name,
      String(p.instance),
      '-',
      `unreachable (was ${p.lastState ?? '?'})`,
      '-',
      String(p.restarts),
      '-',
      '-',
      'its host stopped writing its status',
    ];
  });
  return `${hosts}\n\n${table(header, rows)}`;
}

function cells(p: ProgramStatus): string[] {
  return [
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
      : (p.detail ??
        p.reason ??
        (p.lastExit === undefined ? '' : `code=${p.lastExit.code} signal=${p.lastExit.signal} at ${p.lastExit.at}`)),
  ];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
