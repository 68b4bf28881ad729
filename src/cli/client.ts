// What every client command shares: finding the daemon and asking it. A client must reach a running daemon whatever state the config is in, say "permission
// denied" when the socket is another user's (not "no daemon"), and leave quietly when the
// reader of its output goes away (`bosun logs | head`).

import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { clientConfigFile, daemonHomesFor, lenientHome, NoConfigFileError } from './config-home.js';
import { NoDaemonError, request, type Reply, type Request } from './control.js';
import { EXIT, Exit, type Common } from './exit.js';
import { paths } from './paths.js';

/** The home to talk to: --home, else the config's `home` read leniently, else ./.bosun. */
export async function clientHome(o: Common): Promise<{ home: string; config?: string }> {
  if (o.home !== undefined) return { home: resolve(o.home) };
  let config: string | undefined;
  try {
    config = clientConfigFile(o.config);
  } catch (err) {
    if (err instanceof NoConfigFileError) throw new Exit(EXIT.usage, `bosun: ${err.message}`);
    throw err;
  }
  return config === undefined ? { home: resolve('.bosun') } : { home: await lenientHome(config), config };
}

/** Sends `req` to the daemon and returns its result; exits 3 when none runs, 1 when its socket is not ours to use. */
export async function ask(o: Common, req: Request): Promise<unknown> {
  const { reply } = await reach(o, req);
  if (!reply.ok) throw new Exit(reply.exit, reply.exit === EXIT.usage ? reply.error : `bosun: ${reply.error}`);
  return reply.result;
}

/** Like ask, but also says which home answered. */
export async function reach(o: Common, req: Request): Promise<{ home: string; reply: Reply }> {
  const { home, config } = await clientHome(o);
  try {
    return { home, reply: await request(paths(home).socket, req) };
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_CONTROL') throw new Exit(EXIT.failed, `bosun: ${(err as Error).message}`);
    if (!(err instanceof NoDaemonError)) throw err;
    const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EACCES' || code === 'EPERM') throw new Exit(EXIT.failed, permissionDenied(home));
    // The config's home may have been edited under a running daemon: find the daemon of this config.
    for (const other of config === undefined ? [] : daemonHomesFor(config)) {
      if (other === home) continue;
      try {
        const reply = await request(paths(other).socket, req);
        process.stderr.write(`bosun: the daemon of ${config} runs on home ${other} (the config now says ${home})\n`);
        return { home: other, reply };
      } catch {
        // not that one
      }
    }
    throw new Exit(EXIT.noDaemon, `bosun: ${err.message} (home ${home})`);
  }
}

/** "permission denied" naming whose the home is, and how to act as them. */
export function permissionDenied(home: string): string {
  // The socket, else the nearest folder above it this user may look at: whose the home is.
  let owner: string | undefined;
  for (let path = paths(home).socket; owner === undefined && path !== dirname(path); path = dirname(path)) owner = ownerOf(path);
  const who = owner === undefined ? 'another user' : `user ${owner}`;
  const how = owner === undefined ? 'run bosun as that user' : owner === 'root' ? 'use sudo' : `use sudo -u ${owner}`;
  return `bosun: permission denied: the daemon on ${home} belongs to ${who}; ${how}`;
}

function ownerOf(path: string): string | undefined {
  let uid: number;
  try {
    uid = statSync(path).uid;
  } catch {
    return undefined;
  }
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid));
    return line?.split(':')[0] ?? String(uid);
  } catch {
    return String(uid);
  }
}
