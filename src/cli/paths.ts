// Where a daemon keeps its files inside its home. A module of its own so that client commands
// (which only need the socket path) do not load the daemon and its process layer.

import { join } from 'node:path';

export function paths(home: string) {
  return {
    socket: join(home, 'bosun.sock'),
    pid: join(home, 'bosun.pid'),
    token: join(home, 'token'),
    logs: join(home, 'logs'),
    daemonLog: join(home, 'daemon.log'),
  };
}
