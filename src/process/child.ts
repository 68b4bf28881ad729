// bosun/process/child: what code running inside a ProcessPool child imports.
//   import { send } from 'bosun/process/child';
//   export async function resize(path) { send({ progress: 0.5 }); ...; return out; }
// send() reaches the current call's onMessage in the parent, in order, before the call settles.
// The pool's runtime registers its channel on globalThis, so send() works even when the user's
// module resolved a different copy of this file than the runtime did.

/** The key under which the pool runtime registers its channel on globalThis. */
export const CHANNEL_KEY = Symbol.for('bosun.process.child.channel');

export interface ChildChannel {
  /** Queues `message` for the call now running; false when no call is running. */
  send(message: unknown): boolean;
}

function channel(): ChildChannel | undefined {
  return (globalThis as { [CHANNEL_KEY]?: ChildChannel })[CHANNEL_KEY];
}

/**
 * Sends `message` (anything structured clone can carry) to the `onMessage` of the call running
 * in this child. Returns false when no call is running (the message is dropped).
 * Throws when called outside a pool child.
 */
export function send(message: unknown): boolean {
  const c = channel();
  if (c === undefined) throw new Error('send() from bosun/process/child works only inside a ProcessPool child');
  return c.send(message);
}

/** True inside a ProcessPool child. */
export function inPoolChild(): boolean {
  return channel() !== undefined;
}
