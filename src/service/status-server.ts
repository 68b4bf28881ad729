// The opt-in status server: /healthz (200 only when healthy, else 503 with reasons), /status
// (JSON) and /metrics (Prometheus). It binds 127.0.0.1 by default: exposing it is a choice.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Service } from './service.js';

export interface StatusOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: any free port (read it from `service.statusAddress()`). */
  port?: number;
}

export interface StatusAddress {
  host: string;
  port: number;
}

export class StatusServer {
  readonly #service: Service;
  readonly #host: string;
  readonly #port: number;
  readonly #server: Server;
  readonly #listening: Promise<StatusAddress>;
  #resolve!: (a: StatusAddress) => void;
  #reject!: (e: Error) => void;

  constructor(service: Service, opts: StatusOptions) {
    this.#service = service;
    this.#host = opts.host ?? '127.0.0.1';
    this.#port = opts.port ?? 0;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      });
    });
    this.#listening = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#listening.catch(() => {});
  }

  address(): Promise<StatusAddress> {
    return this.#listening;
  }

  /** Starts listening; rejects (and so fails the service) if the port cannot be bound. */
  listen(): Promise<StatusAddress> {
    const onError = (err: Error) => this.#reject(err);
    this.#server.once('error', onError);
    this.#server.listen(this.#port, this.#host, () => {
      this.#server.off('error', onError);
      const a = this.#server.address() as AddressInfo;
      this.#resolve({ host: a.address, port: a.port });
    });
    return this.#listening;
  }

  /**
   * Stops serving. A server that never listened rejects address() with `cause`: the error that
   * stopped the service first (an OptionError, say), so the caller sees the real reason.
   */
  async close(cause: Error): Promise<void> {
    if (!this.#server.listening) {
      this.#reject(cause); // no-op when listen() already failed with its own error
      return;
    }
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/healthz': {
        const h = this.#service.health();
        res
          .writeHead(h.healthy ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
          .end(h.healthy ? 'ok\n' : h.reasons.join('\n') + '\n');
        return;
      }
      case '/status': {
        const body = JSON.stringify(this.#service.status(), null, 2);
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body + '\n');
        return;
      }
      case '/metrics': {
        const text = await this.#service.metrics.text();
        res.writeHead(200, { 'content-type': this.#service.metrics.contentType }).end(text);
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /healthz, /status or /metrics\n');
    }
  }
}
