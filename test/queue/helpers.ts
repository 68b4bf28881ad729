// Shared by the queue tests: waiting on conditions (never fixed sleeps), the PostgreSQL URL,
// unique schemas that are dropped after, and temp dirs for PGlite.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Polls `cond` every few ms until it is truthy; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function uniqueSchema(prefix: string): string {
  return `t_${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Runs SQL on the test database with a short-lived client. A missing server fails the test. */
export async function sql(text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `bosun-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
