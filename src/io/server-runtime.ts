import type { Logger } from 'pino';
import { formatEndpoint, type Address } from '../core/address.js';
import { ServerCore, type ServerConfig, type ServerEvent } from '../core/server/server-core.js';
import type { Store } from '../store/store.js';
import type { TopicStores } from '../store/topic-stores.js';
import { runStoreRequest, type StoreRequest } from '../store/store-request.js';
import { now } from './clock.js';
import { PacketDriver } from './packet-driver.js';
import { openServerTransport } from './server-transport.js';
import type { TcpCounts, TcpLimits } from './tcp-listener.js';
import { StoreErrorDigest } from './error-digest.js';

/** A store request as the core hands it out: its id comes back with the result. */
type PendingRequest = { id: number; req: StoreRequest };

export interface RunningServer {
  readonly address: Address;
  readonly core: ServerCore;
  /** TCP connections now, refused, and packets dropped to peers that do not read (TCP served). */
  readonly tcp: TcpCounts | undefined;
  /** Stops taking datagrams, finishes what the store is doing, saves positions, closes. */
  stop(): Promise<void>;
}

/** What a monitor is told as the server runs. */
export interface ServerWatch {
  event(e: ServerEvent): void;
  /** A commit: how long the store took, and the messages it stored. */
  commit(ms: number, messages: number): void;
}

export async function startServer(opts: {
  host: string;
  port: number;
  /** Serve UDP (default yes). */
  udp?: boolean;
  /** Serve TCP on the same port number, within these limits. */
  tcp?: TcpLimits;
  /** Every topic's log (the default topic's store also keeps the registry). */
  stores: TopicStores;
  config: ServerConfig;
  logger: Logger;
  /** Clients offline this long are forgotten (0: never). */
  forgetAfterMs?: number;
  watch?: ServerWatch;
}): Promise<RunningServer> {
  const { stores, logger, watch } = opts;
  const store = stores.main;
  const storeErrors = new StoreErrorDigest(logger, now);
  const served = await openServerTransport({
    host: opts.host,
    port: opts.port,
    udp: opts.udp ?? true,
    tcp: opts.tcp,
    onSendError: (err) => logger.debug({ err }, 'send failed'),
    onTcpRefused: (host, why) => logger.debug({ from: host }, `TCP connection from ${host} refused: at most ${why}`),
  });
  const core = new ServerCore(opts.config);
  let idle: (() => void) | undefined;

  const requests = new StoreRequests(stores, core, () => driver.pump(), watch);
  const afterInput = (): void => {
    requests.take();
    for (let e = core.pollEvent(); e; e = core.pollEvent()) {
      logEvent(logger, storeErrors, e);
      watch?.event(e);
    }
    if (idle && core.pendingStoreWork === 0) idle();
  };
  const driver = new PacketDriver(served.transport, core, afterInput);
  // Another server sharing the store appended: readers waiting here may have something to read.
  await stores.watch((topic, next) => {
    core.handleLogAdvanced(next, now(), topic);
    driver.pump();
  });
  const { address } = served;
  const forgetting = forgetOldClients(store, logger, opts.forgetAfterMs ?? 0);

  return {
    address,
    core,
    tcp: served.tcp?.counts,
    async stop() {
      clearInterval(forgetting);
      core.shutdown(now());
      driver.pump();
      if (core.pendingStoreWork > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
        });
        driver.pump(); // last acknowledgements and goodbyes
      }
      driver.stop();
      await served.transport.close();
      await stores.close();
    },
  };
}

/**
 * Runs the core's store requests and hands back their results. Writes run once per turn of the event
 * loop, after the datagrams that arrived together, so that a burst of datagrams becomes one group
 * commit rather than one transaction each. Reads of what is committed gain nothing from waiting, and a
 * reader waits for them: they run at once.
 */
class StoreRequests {
  private readonly pending: PendingRequest[] = [];
  private scheduled = false;

  constructor(
    private readonly stores: TopicStores,
    private readonly core: ServerCore,
    private readonly pump: () => void,
    private readonly watch?: ServerWatch,
  ) {}

  take(): void {
    for (let r = this.core.pollStoreRequest(); r; r = this.core.pollStoreRequest()) {
      if (r.req.op === 'read') this.run(r);
      else this.pending.push(r);
    }
    if (this.pending.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        for (const r of this.pending.splice(0)) this.run(r);
      });
    }
  }

  private run({ id, req }: PendingRequest): void {
    const commit = req.op === 'append' && this.watch ? { started: now(), messages: messagesIn(req.batches) } : undefined;
    runStoreRequest(this.stores, req).then(
      (value) => {
        if (commit) this.watch!.commit(now() - commit.started, commit.messages);
        this.core.handleStoreResult(id, true, value, now());
        this.pump();
      },
      (error: unknown) => {
        this.core.handleStoreResult(id, false, error, now());
        this.pump();
      },
    );
  }
}

const messagesIn = (batches: readonly { messages: readonly unknown[] }[]): number => batches.reduce((n, b) => n + b.messages.length, 0);

/** How often clients offline for longer than the limit are looked for, at most. */
const FORGET_EVERY_MS = 3_600_000;

/**
 * Forgets clients offline for `afterMs`: now, then every hour (or every tenth of `afterMs`, if that is
 * shorter); a store that fails is tried again then.
 */
function forgetOldClients(store: Store, logger: Logger, afterMs: number): NodeJS.Timeout | undefined {
  if (afterMs <= 0) return undefined;
  const forget = (): void => {
    store.forgetClients(Date.now() - afterMs).then(
      (n) => {
        if (n > 0) logger.info({ forgotten: n }, `forgot ${n} clients not seen for ${duration(afterMs)}`);
      },
      (err: unknown) => logger.debug({ err }, 'forgetting old clients failed; tried again later'),
    );
  };
  forget();
  return setInterval(forget, Math.max(1000, Math.min(FORGET_EVERY_MS, afterMs / 10))).unref();
}

/** A span of time as a person says it: 30 days, 5 h, 10 min, 2 s. */
function duration(ms: number): string {
  const units: [number, string][] = [[86_400_000, ' days'], [3_600_000, ' h'], [60_000, ' min'], [1000, ' s']];
  const [size, unit] = units.find(([u]) => ms >= u) ?? units.at(-1)!;
  return `${Math.round(ms / size)}${unit}`;
}

function logEvent(logger: Logger, storeErrors: StoreErrorDigest, e: ServerEvent): void {
  switch (e.type) {
    case 'session-opened':
      return logger.info({ role: e.role, user: e.name, from: formatEndpoint(e.addr) }, `${e.role} ${e.name} registered`);
    case 'session-closed':
      return logger.info({ role: e.role, user: e.name, reason: e.reason }, `${e.role} ${e.name} left (${e.reason})`);
    case 'refused':
      return logger.warn({ user: e.name, from: formatEndpoint(e.addr) }, `refused ${e.name}: ${e.reason}`);
    case 'store-error':
      return storeErrors.report(e.op, e.error);
  }
}
