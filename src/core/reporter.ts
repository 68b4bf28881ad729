// Reporter: a worker that can say what it is doing, as a plain JSON-able object. Engine, Runner,
// Supervisor, Service and ProcessPool all have report(), so a status page or a test can show any
// tree without knowing which kinds of worker it holds: a parent includes the report of each
// child that is a Reporter.

/** Anything with a `report()` that returns a plain object describing its current state. */
export interface Reporter {
  report(): object;
}

/** True when `value` has a `report()` method. */
export function isReporter(value: unknown): value is Reporter {
  return typeof value === 'object' && value !== null && typeof (value as { report?: unknown }).report === 'function';
}

/** `value.report()` if it is a Reporter, `undefined` otherwise; a report that throws becomes `{ error }`. */
export function reportOf(value: unknown): object | undefined {
  if (!isReporter(value)) return undefined;
  try {
    return value.report();
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
