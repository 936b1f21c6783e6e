import type { Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { formatAddress, type Address } from '../core/address.js';
import { ServerCore, type ServerConfig } from '../core/server/server-core.js';
import type { Store } from '../store/store.js';
import { runStoreRequest, type StoreRequest } from '../store/store-request.js';
import { now } from './clock.js';
import { bindSocket } from './udp-socket.js';
import { UdpDriver } from './udp-driver.js';
import { StoreErrorDigest } from './error-digest.js';

/** A store request as the core hands it out: its id comes back with the result. */
type PendingRequest = { id: number; req: StoreRequest };

export interface RunningServer {
  readonly address: Address;
  readonly core: ServerCore;
  /** Stops taking datagrams, finishes what the store is doing, saves positions, closes. */
  stop(): Promise<void>;
}

export async function startServer(opts: {
  host: string;
  port: number;
  store: Store;
  config: ServerConfig;
  logger: Logger;
}): Promise<RunningServer> {
  const { store, logger } = opts;
  const storeErrors = new StoreErrorDigest(logger, now);
  const socket: Socket = await bindSocket(opts.host, opts.port);
  const core = new ServerCore(opts.config);
  let idle: (() => void) | undefined;

  const run = ({ id, req }: PendingRequest): void => {
    runStoreRequest(store, req).then(
      (value) => {
        core.handleStoreResult(id, true, value, now());
        driver.pump();
      },
      (error: unknown) => {
        core.handleStoreResult(id, false, error, now());
        driver.pump();
      },
    );
  };
  // Store requests run once per turn of the event loop, after the datagrams that arrived together,
  // so that a burst of datagrams becomes one group commit rather than one transaction each. Reads of
  // what is committed gain nothing from waiting, and a reader waits for them: they run at once.
  const pending: PendingRequest[] = [];
  let scheduled = false;
  const runPending = (): void => {
    scheduled = false;
    for (const r of pending.splice(0)) run(r);
  };
  const afterInput = (): void => {
    for (let r = core.pollStoreRequest(); r; r = core.pollStoreRequest()) {
      if (r.req.op === 'read') run(r);
      else pending.push(r);
    }
    if (pending.length > 0 && !scheduled) {
      scheduled = true;
      setImmediate(runPending);
    }
    for (let e = core.pollEvent(); e; e = core.pollEvent()) {
      switch (e.type) {
        case 'session-opened':
          logger.info({ role: e.role, user: e.name, from: formatAddress(e.addr) }, `${e.role} ${e.name} registered`);
          break;
        case 'session-closed':
          logger.info({ role: e.role, user: e.name, reason: e.reason }, `${e.role} ${e.name} left (${e.reason})`);
          break;
        case 'refused':
          logger.warn({ user: e.name, from: formatAddress(e.addr) }, `refused ${e.name}: ${e.reason}`);
          break;
        case 'store-error':
          storeErrors.report(e.op, e.error);
          break;
      }
    }
    if (idle && core.pendingStoreWork === 0) idle();
  };
  const driver = new UdpDriver(socket, core, afterInput);
  driver.onSendError = (err) => logger.debug({ err }, 'send failed');
  // Another server sharing the store appended: readers waiting here may have something to read.
  await store.watch?.((next) => {
    core.handleLogAdvanced(next, now());
    driver.pump();
  });
  const bound = socket.address();
  const address = { address: bound.address, port: bound.port };

  return {
    address,
    core,
    async stop() {
      core.shutdown(now());
      driver.pump();
      if (core.pendingStoreWork > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
        });
        driver.pump(); // last acknowledgements and goodbyes
      }
      driver.stop();
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      await store.close();
    },
  };
}
