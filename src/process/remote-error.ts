// Errors crossing the pool's IPC channel. Structured clone keeps an Error's message and stack but
// drops its class and own properties, so the child sends a plain record and the parent rebuilds
// an error of a class with the same name (the built-in one for TypeError, RangeError, ...),
// with the same name, message, stack, own properties and cause.

export interface ErrorRecord {
  /** Constructor name in the child. */
  className: string;
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown>;
  cause?: ErrorRecord | { value: unknown };
  /** Set when a non-Error value was thrown; `value` is it. */
  thrown?: { value: unknown };
}

/** Turns what a call threw into something structured clone can carry (within `depth` causes). */
export function encodeError(err: unknown, depth = 3): ErrorRecord {
  if (!(err instanceof Error)) {
    return { className: 'Error', name: 'Error', message: describe(err), stack: undefined, props: {}, thrown: { value: carry(err) } };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (key === 'cause') continue;
    const v = cloneable((err as unknown as Record<string, unknown>)[key]);
    if (v !== DROP) props[key] = v;
  }
  if (Object.prototype.hasOwnProperty.call(err, 'name')) props.name = err.name;
  const record: ErrorRecord = {
    className: err.constructor?.name || 'Error',
    name: err.name,
    message: err.message,
    stack: err.stack,
    props,
  };
  if ('cause' in err && err.cause !== undefined) {
    record.cause = err.cause instanceof Error && depth > 0 ? encodeError(err.cause, depth - 1) : { value: carry(err.cause) };
  }
  return record;
}

const builtins: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};
const classes = new Map<string, ErrorConstructor>();

/** An Error constructor named `name`: the built-in one, or a subclass of Error made once per name. */
function classNamed(name: string): ErrorConstructor {
  const builtin = builtins[name];
  if (builtin !== undefined) return builtin;
  let cls = classes.get(name);
  if (cls === undefined) {
    cls = { [name]: class extends Error {} }[name] as unknown as ErrorConstructor;
    classes.set(name, cls);
  }
  return cls;
}

/** Rebuilds the error a child threw. A thrown non-Error comes back as that value. */
export function decodeError(r: ErrorRecord): unknown {
  if (r.thrown !== undefined) return r.thrown.value;
  const Cls = classNamed(r.className);
  const err = new Cls(r.message);
  Object.defineProperty(err, 'name', { value: r.name, writable: true, configurable: true, enumerable: false });
  if (r.stack !== undefined) Object.defineProperty(err, 'stack', { value: r.stack, writable: true, configurable: true, enumerable: false });
  for (const [k, v] of Object.entries(r.props)) {
    if (k === 'name') Object.defineProperty(err, 'name', { value: v, writable: true, configurable: true, enumerable: true });
    else (err as unknown as Record<string, unknown>)[k] = v;
  }
  if (r.cause !== undefined) {
    const cause = 'className' in r.cause ? decodeError(r.cause) : r.cause.value;
    Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  }
  return err;
}

const DROP = Symbol('drop');

/** A value structured clone can carry: itself, a clone, or its description. */
function carry(v: unknown): unknown {
  const c = cloneable(v);
  return c === DROP ? describe(v) : c;
}

function cloneable(v: unknown): unknown {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function' && typeof v !== 'symbol')) return v;
  if (typeof v === 'function' || typeof v === 'symbol') return DROP;
  try {
    return structuredClone(v);
  } catch {
    return describe(v);
  }
}

function describe(v: unknown): string {
  try {
    return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}
