// A small HTTP load loop for bench/daemon's web measurements, on 127.0.0.1: `clients` loops
// send requests one after another without pause, each on a new connection (every request is an
// accept on the listening socket: where a balancing master process costs the most) or over a
// kept-alive connection per client. Counts answers, failures (any error or non-200 status) and
// the pids that answered.
import { Agent, request } from 'node:http';

export interface LoadResult {
  ok: number;
  failed: number;
  /** The first few failure messages. */
  errors: string[];
  ms: number;
  /** Answers by pid: how the connections were spread over the instances. */
  pids: Map<string, number>;
}

export interface Load {
  /** Stops the clients once their requests in flight are answered. */
  stop(): Promise<LoadResult>;
  readonly ok: number;
}

export function startLoad(port: number, clients: number, keepAlive: boolean): Load {
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const pids = new Map<string, number>();
  let running = true;
  const t0 = performance.now();
  const one = (agent: Agent | false) =>
    new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode === 200) {
            ok++;
            pids.set(body.trim(), (pids.get(body.trim()) ?? 0) + 1);
          } else fail(`HTTP ${res.statusCode}`);
          resolve();
        });
        res.on('error', (err) => {
          fail(err.message);
          resolve();
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timed out after 10 s')));
      req.on('error', (err) => {
        fail(err.message);
        resolve();
      });
      req.end();
    });
  const fail = (message: string) => {
    failed++;
    if (errors.length < 5) errors.push(message);
  };
  const loops = Array.from({ length: clients }, async () => {
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    while (running) await one(agent);
    if (agent) agent.destroy();
  });
  return {
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed, errors, ms: performance.now() - t0, pids };
    },
  };
}
