// Shared helpers for the process tests: fixture paths and condition waits in real time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procInfo } from '../../src/process/tree.js';

export const node = process.execPath;
export const procFixture = fileURLToPath(new URL('./fixtures/proc.js', import.meta.url));
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export { until } from '../support.js';

/** True when no live (non-zombie) process has this pid. */
export function gone(pid: number): boolean {
  const info = procInfo(pid);
  return info === undefined || info.state === 'Z' || info.state === 'X';
}

/** Runs `fn` with a fresh temporary folder, removed afterwards whatever happens. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `bosun-${prefix}-`));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
