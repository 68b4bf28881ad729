// The engine's dependency graph: who each manifold needs, and who needs it, so every event
// touches only the manifolds next to it (no scan of the whole engine). Refuses cycles on add.

import { CycleError } from '../core/errors.js';
import { findCycles } from '../core/graph.js';

const none: ReadonlySet<string> = new Set();

export class DependencyGraph {
  readonly #inputs = new Map<string, readonly string[]>();
  /** Keyed by input name, installed or not, so a manifold installed later finds its dependents. */
  readonly #dependents = new Map<string, Set<string>>();

  has(name: string): boolean {
    return this.#inputs.has(name);
  }

  /** Adds `name`; throws `CycleError` naming the cycle if its inputs lead back to it. */
  add(name: string, inputs: readonly string[]): void {
    const cycle = this.#findCycle(name, inputs);
    if (cycle !== undefined) {
      throw new CycleError(
        cycle,
        `cannot install "${name}": it would close a dependency cycle ${cycle.join(' -> ')}; remove one of these inputs`,
      );
    }
    this.#inputs.set(name, inputs);
    for (const input of inputs) {
      let deps = this.#dependents.get(input);
      if (deps === undefined) this.#dependents.set(input, (deps = new Set()));
      deps.add(name);
    }
  }

  /** Removes `name`; manifolds that list it as an input keep doing so and wait for it. */
  remove(name: string): void {
    for (const input of this.#inputs.get(name) ?? []) {
      const deps = this.#dependents.get(input);
      deps?.delete(name);
      if (deps?.size === 0) this.#dependents.delete(input);
    }
    this.#inputs.delete(name);
  }

  /** Installed manifolds that list `name` among their inputs. */
  dependents(name: string): ReadonlySet<string> {
    return this.#dependents.get(name) ?? none;
  }

  /** A path name -> ... -> name through installed manifolds' inputs, if `inputs` close one. */
  #findCycle(name: string, inputs: readonly string[]): string[] | undefined {
    // A path back to `name` must end at a manifold that lists it as an input. When none does
    // (manifolds installed inputs-first, the usual order), there is nothing to search.
    if (!this.#dependents.has(name) && !inputs.includes(name)) return undefined;
    // The graph without `name` has no cycle (every add was checked), so any cycle found
    // from `name` passes through it, and the walk enters it at `name`.
    const [cycle] = findCycles([name], (n) => (n === name ? inputs : (this.#inputs.get(n) ?? [])));
    return cycle === undefined ? undefined : [...cycle, name];
  }
}
