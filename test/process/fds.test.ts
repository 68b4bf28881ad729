// monitorProcess's `fds`: open descriptors of this process become the child's fds 3, 4, ...
// in order (how the fleet hands down listening sockets), with an IPC channel placed after them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorProcess } from '../../src/process/index.js';
import { node } from './helpers.js';

test("fds become the child's fds 3 and 4, in order, and an IPC ready message still arrives", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-fds-'));
  const a = openSync(join(dir, 'a'), 'w');
  const b = openSync(join(dir, 'b'), 'w');
  try {
    const script = "const fs=require('fs');fs.writeSync(3,'to a');fs.writeSync(4,'to b');process.send('ready');setTimeout(()=>{},50)";
    const m = monitorProcess({ command: node, args: ['-e', script], fds: [a, b], ready: { message: true } });
    await m.ready();
    await m.wait();
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'to a');
    assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'to b');
  } finally {
    closeSync(a);
    closeSync(b);
    rmSync(dir, { recursive: true, force: true });
  }
});
