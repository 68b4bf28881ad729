// Which process listens on a unix socket path, read from /proc: /proc/net/unix names the path
// of each socket inode, /proc/<pid>/fd links to the inodes a process holds. Used to find the
// daemon of a config whose home was edited, and by a daemon to know a socket file is its own.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Socket inode -> path, for bound unix sockets whose path `accept`s. */
export function unixSocketPaths(accept: (path: string) => boolean = () => true): Map<string, string> {
  const out = new Map<string, string>();
  let table: string;
  try {
    table = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    return out;
  }
  for (const line of table.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const path = f.slice(7).join(' ');
    if (accept(path)) out.set(f[6]!, path);
  }
  return out;
}

/** The socket inodes `pid` holds open (empty when its fds cannot be read: gone, or another user's). */
export function socketInodes(pid: number | 'self'): string[] {
  const out: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) out.push(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** True when this process listens on the unix socket at `path`. */
export function listensOn(path: string): boolean {
  const bound = unixSocketPaths((p) => p === path);
  return socketInodes('self').some((ino) => bound.has(ino));
}
