// Command targets (`name`, `name:index`, `all`) and the fleet's start order: each program
// after the programs in its `after`, ties in file order. Validation refuses cycles, so the
// order is always a real one.

import { NotFoundError } from '../core/errors.js';
import { dependencyOrder } from '../core/graph.js';
import type { ProgramConfig } from './config.js';

export type Target = { all: true } | { all: false; program: string; index: number | undefined };

/** Parses a command target; a name that is not in `names` is a NotFoundError naming it. */
export function parseTarget(target: string, names: readonly string[], instances: (name: string) => number): Target {
  if (target === 'all') return { all: true };
  const m = /^(.*):(\d+)$/.exec(target);
  const program = m === null ? target : m[1]!;
  if (!names.includes(program)) {
    throw new NotFoundError(`unknown program '${program}' (known: ${names.join(', ') || 'none'})`);
  }
  if (m === null) return { all: false, program, index: undefined };
  const index = Number(m[2]);
  const count = instances(program);
  if (index >= count) {
    throw new NotFoundError(`program '${program}' has no instance ${index} (it has ${count}: 0 to ${count - 1})`);
  }
  return { all: false, program, index };
}

/** Program names in start order (core's dependency order over `after`). */
export function startOrder(programs: readonly ProgramConfig[]): string[] {
  const byName = new Map(programs.map((p) => [p.name, p]));
  return dependencyOrder(
    programs.map((p) => p.name),
    (name) => (byName.get(name)?.after ?? []).filter((d) => byName.has(d)),
  ).order;
}

/** True when `program` waits, directly or through others, for `dep`. */
export function dependsOn(program: string, dep: string, byName: ReadonlyMap<string, ProgramConfig>): boolean {
  const seen = new Set<string>();
  const stack = [...(byName.get(program)?.after ?? [])];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n === dep) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...(byName.get(n)?.after ?? []));
  }
  return false;
}
