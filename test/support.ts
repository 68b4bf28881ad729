// Helpers every test folder may use: a bounded wait for a condition in real time, for what
// TestClock does not drive (child processes, sockets), and a free port on 127.0.0.1.

import { createServer } from 'node:net';

/**
 * Polls `cond` until it holds; throws after `timeoutMs` of real time. `pollMs` 0 polls between
 * macrotasks (for in-process work); a few ms leaves the CPU to child processes being waited on.
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000, pollMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((r) => (pollMs > 0 ? setTimeout(r, pollMs) : setImmediate(r)));
  }
}

/** A port the OS just handed out on 127.0.0.1, free again for the caller (or its child) to bind. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
