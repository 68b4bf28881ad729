// Dependency order and cycles, once for every layer that has "A needs B": the engine's
// manifolds, a service's tasks, the fleet's programs (`after`). Iterative, so a long chain
// does not overflow the stack.

/** What `dependencyOrder` finds. */
export interface DependencyOrder<T> {
  /**
   * Every node, each after every node it depends on; among nodes free to go, the one given
   * first goes first (the given nodes in their order, then nodes reached only through
   * `deps`, in the order they were reached). Nodes on or behind a cycle come last.
   */
  order: T[];
  /** Every cycle (see `findCycles`); empty when the order is a real one. */
  cycles: T[][];
}

/**
 * Every cycle reachable from `nodes`, once each, as the path around it from the node where
 * a depth-first walk (the given nodes in order, each one's deps in order) entered it; the
 * first node is not repeated at the end. Every node `deps` names is a node.
 */
export function findCycles<T>(nodes: Iterable<T>, deps: (node: T) => Iterable<T>): T[][] {
  return walk(nodes, deps).cycles;
}

/** Orders nodes so that each comes after what it depends on, and names every cycle. */
export function dependencyOrder<T>(nodes: Iterable<T>, deps: (node: T) => Iterable<T>): DependencyOrder<T> {
  const given = [...nodes];
  const { reached, depsOf, cycles } = walk(given, deps);
  const rank = new Map<T, number>();
  for (const n of given) if (!rank.has(n)) rank.set(n, rank.size);
  for (const n of reached) if (!rank.has(n)) rank.set(n, rank.size);
  // Kahn's algorithm, always taking the ready node of lowest rank.
  const waiting = new Map<T, number>();
  const dependents = new Map<T, T[]>();
  for (const [n, ds] of depsOf) {
    const unique = new Set(ds);
    unique.delete(n);
    waiting.set(n, unique.size + (ds.includes(n) ? 1 : 0));
    for (const d of unique) {
      const list = dependents.get(d);
      if (list === undefined) dependents.set(d, [n]);
      else list.push(n);
    }
  }
  const byRank = (a: T, b: T) => rank.get(a)! - rank.get(b)!;
  const ready = [...waiting]
    .filter(([, w]) => w === 0)
    .map(([n]) => n)
    .sort(byRank);
  const order: T[] = [];
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const d of dependents.get(n) ?? []) {
      const w = waiting.get(d)! - 1;
      waiting.set(d, w);
      if (w === 0) insertSorted(ready, d, byRank);
    }
  }
  if (order.length < waiting.size) {
    const placed = new Set(order);
    order.push(...[...waiting.keys()].filter((n) => !placed.has(n)).sort(byRank));
  }
  return { order, cycles };
}

function walk<T>(nodes: Iterable<T>, deps: (node: T) => Iterable<T>): { reached: T[]; depsOf: Map<T, T[]>; cycles: T[][] } {
  const VISITING = 1;
  const DONE = 2;
  const state = new Map<T, number>();
  const depsOf = new Map<T, T[]>();
  const reached: T[] = [];
  const cycles: T[][] = [];
  const path: T[] = [];
  const frames: { node: T; deps: T[]; next: number }[] = [];
  const enter = (node: T) => {
    state.set(node, VISITING);
    reached.push(node);
    path.push(node);
    const ds = [...deps(node)];
    depsOf.set(node, ds);
    frames.push({ node, deps: ds, next: 0 });
  };
  for (const root of nodes) {
    if (state.has(root)) continue;
    enter(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      if (frame.next < frame.deps.length) {
        const dep = frame.deps[frame.next++]!;
        const s = state.get(dep);
        if (s === VISITING) cycles.push(path.slice(path.indexOf(dep)));
        else if (s === undefined) enter(dep);
      } else {
        frames.pop();
        path.pop();
        state.set(frame.node, DONE);
      }
    }
  }
  return { reached, depsOf, cycles };
}

function insertSorted<T>(list: T[], item: T, compare: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid]!, item) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}
