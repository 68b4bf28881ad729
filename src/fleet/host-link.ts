// A Fleet's link to the rest of its fleet: the registry of hosts (this host's rows, written on
// every change and every leaseTtl/3), the queue whose leases elect each singleton's host, and
// the fence that stops a singleton when its lease cannot be renewed. `connectHost` makes one
// from a config with `fleet`; `new Fleet({ config, hosts })` uses it; its owner closes it after
// the fleet stopped. Nothing here is loaded, pg included, unless a config has `fleet`.

import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Worker } from '../core/worker.js';
import type { DaemonConfig } from './config.js';
import { Fence, type FenceLink } from './fence.js';
import { leaseTiming, redact } from './fleet-config.js';
import type { FleetStatusBody, HostRegistry } from './hosts.js';
import { startSingleton, type LeaseSource, type SingletonInstance } from './singleton.js';
import type { ProgramStatus, StatusBody } from './status.js';

/** How long a shutdown waits to mark the host gone before it leaves that to the host's age. */
const CLOSE_WAIT_MS = 3000;

/** What the link follows of a Fleet. */
export interface LinkedFleet {
  status(): StatusBody;
  freshStatus(): StatusBody;
  on(name: 'change', fn: (value: null) => void): () => void;
}

/** The registry as the link uses it (tests run without one). */
export type Registry = Pick<HostRegistry, 'refresh' | 'fleetStatus' | 'close'>;

export interface HostLinkOptions {
  host: string;
  leaseTtlMs: number;
  /** Where singletons take their leases: a JobQueue, or how to open one when the first singleton runs. */
  queue: LeaseSource | (() => Promise<LeaseSource & { close?(): Promise<void> }>);
  fence: FenceLink & { close?(): Promise<void> };
  registry?: Registry;
  clock?: Clock;
  logger?: Logger;
}

export class HostLink {
  readonly host: string;
  readonly leaseTtlMs: number;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #fence: HostLinkOptions['fence'];
  readonly #registry: Registry | undefined;
  readonly #openQueue: () => Promise<LeaseSource & { close?(): Promise<void> }>;
  #queue: Promise<LeaseSource & { close?(): Promise<void> }> | undefined;
  #fleet: LinkedFleet | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: { clear(): void } | undefined;
  #dirty = false;
  #flushing: Promise<void> | undefined;
  #closed = false;
  #nameLost = false;

  constructor(o: HostLinkOptions) {
    this.host = o.host;
    this.leaseTtlMs = o.leaseTtlMs;
    this.#clock = o.clock ?? systemClock;
    this.#log = o.logger;
    this.#fence = o.fence;
    this.#registry = o.registry;
    const q = o.queue;
    this.#openQueue = typeof q === 'function' ? q : () => Promise.resolve(q);
  }

  /** Follows `fleet`: its rows are written on every change and every leaseTtl/3. Called by the Fleet. */
  attach(fleet: LinkedFleet): void {
    this.#fleet = fleet;
    this.#unsubscribe = fleet.on('change', () => this.#changed());
    this.#changed();
    this.#tick();
  }

  /** Runs a singleton instance (see singleton.ts); resolves once its first tenure started. */
  async singleton(inst: SingletonInstance, signal: AbortSignal): Promise<Worker> {
    // The watchdog starts while the instance is still standby, so a takeover does not wait for it to boot.
    this.#fence.ready().catch((err: unknown) => this.#log?.error({ err }, 'cannot start the singleton watchdog'));
    const queue = await (this.#queue ??= this.#openQueue());
    return startSingleton(
      {
        queue,
        leaseTtlMs: this.leaseTtlMs,
        clock: this.#clock,
        fence: this.#fence,
        host: this.host,
        ...(this.#log === undefined ? {} : { logger: this.#log }),
      },
      inst,
      signal,
    );
  }

  /** Every host of the fleet and every instance (the `status --fleet` body). */
  async fleetStatus(): Promise<FleetStatusBody> {
    if (this.#registry === undefined) return { self: this.host, hosts: [], programs: [] };
    return this.#registry.fleetStatus();
  }

  /**
   * Call after the fleet stopped: writes the last rows, marks the host gone, closes the queue
   * (its leases were released as the singletons stopped) and the fence.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.clear();
    this.#unsubscribe?.();
    await this.#flushing;
    // A database out of reach must not hold the shutdown: the host then shows unreachable, not gone.
    const gone = this.#registry
      ?.close()
      .catch((err: unknown) => this.#log?.warn({ err }, 'could not mark this host gone in the fleet database'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    const q = await this.#queue?.catch(() => undefined);
    await q?.close?.().catch(() => {});
    await this.#fence.close?.();
  }

  #tick(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#flush(true);
      this.#tick();
    }, leaseTiming(this.leaseTtlMs).renewMs);
  }

  #changed(): void {
    if (this.#dirty || this.#closed) return;
    this.#dirty = true;
    // Changes come in bursts (a start touches several states): one write after the burst.
    setImmediate(() => this.#flush(false));
  }

  #flush(fresh: boolean): void {
    if (this.#registry === undefined || this.#fleet === undefined || this.#closed) return;
    if (this.#flushing !== undefined) {
      this.#dirty = true;
      return;
    }
    this.#dirty = false;
    const rows: ProgramStatus[] = (fresh ? this.#fleet.freshStatus() : this.#fleet.status()).programs;
    const registry = this.#registry;
    this.#flushing = registry
      .refresh(rows)
      .then(
        (ok) => {
          if (!ok && !this.#nameLost)
            this.#log?.error(
              { host: this.host },
              'another daemon holds this host name in the fleet database; this host is not shown until it lets go',
            );
          this.#nameLost = !ok;
        },
        (err: unknown) => this.#log?.warn({ err, host: this.host }, "could not write this host's status to the fleet database"),
      )
      .finally(() => {
        this.#flushing = undefined;
        if (this.#dirty) {
          this.#dirty = false;
          this.#flush(false);
        }
      });
  }
}

/**
 * Connects a config's fleet: the registry (host claimed) and, when the config has singletons,
 * the queue and its schema. Throws FleetDatabaseError (`fleet.database: ...`) when the database
 * cannot be used and HostClaimedError (`fleet.host: ...`) when a live daemon holds the name.
 */
export async function connectHost(config: DaemonConfig, options: { logger?: Logger; clock?: Clock } = {}): Promise<HostLink> {
  const settings = config.fleet;
  if (settings === undefined) throw new TypeError('connectHost needs a config with `fleet`');
  const { HostRegistry, FleetDatabaseError, urlFor } = await import('./hosts.js');
  const registry = await HostRegistry.open(settings, config.home);
  const openQueue = async () => {
    const { JobQueue, postgresStore } = await import('../queue/index.js');
    return JobQueue.open({
      store: postgresStore({ connectionString: urlFor(settings), schema: settings.schema, poolSize: 2 }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  };
  let queue: Awaited<ReturnType<typeof openQueue>> | undefined;
  if (config.programs.some((p) => p.placement === 'singleton')) {
    try {
      queue = await openQueue();
    } catch (err) {
      await registry.close().catch(() => {});
      throw new FleetDatabaseError(`fleet.database: cannot open the leases in ${redact(settings.database)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return new HostLink({
    host: settings.host,
    leaseTtlMs: settings.leaseTtlMs,
    queue: queue ?? openQueue,
    fence: new Fence(options.logger === undefined ? {} : { logger: options.logger }),
    registry,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}
