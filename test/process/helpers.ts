// Shared helpers for the process tests: fixture paths and condition waits in real time.
import { fileURLToPath } from 'node:url';
import { procInfo } from '../../src/process/tree.js';

export const node = process.execPath;
export const procFixture = fileURLToPath(new URL('./fixtures/proc.js', import.meta.url));
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Polls `cond` every few ms until it is true; throws after `timeoutMs` (generous: the machine may be busy). */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** True when no live (non-zombie) process has this pid. */
export function gone(pid: number): boolean {
  const info = procInfo(pid);
  return info === undefined || info.state === 'Z' || info.state === 'X';
}
