import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { hideBin } from 'yargs/helpers';
import type { Logger } from 'pino';
import { formatAddress, type Address } from '../core/address.js';
import { SERVER_DEFAULTS } from '../core/server/server-core.js';
import { DATAGRAM_BYTES_MAX, DATAGRAM_BYTES_MIN, MESSAGE_BYTES_MAX } from '../protocol/constants.js';
import { hmacSha256, randomId, randomKey } from '../io/random.js';
import { startServer } from '../io/server-runtime.js';
import { TCP_DEFAULTS, type TcpLimits } from '../io/tcp-listener.js';
import { openStore, StoreOpenError, topicStores, type StoreOptions } from '../store/open-store.js';
import { isRedisSpec } from '../store/redis-url.js';
import { parseRetentionRule } from './retention-rules.js';
import type { TopicStores } from '../store/topic-stores.js';
import { Monitor } from '../monitor/monitor.js';
import { startHttpMonitor, type HttpMonitor } from '../monitor/http-monitor.js';
import { baseParser, examplesText, favourEventLoop, runCommand, usage, VERSION, type Example } from './command.js';
import { DEFAULT_PORT, portInput } from './client-options.js';
import { SERVER_KEY_FILE } from './server-identity.js';
import { ExitCode, UserError } from './exit-codes.js';
import { createLogger, type LogLevel } from './logger.js';
import { checkSecurityArgs, printVerifier, serverSecurity } from './server-security.js';

const NAME = 'run-server';

export const EXAMPLES: Example[] = [
  { command: '$0', does: 'Serve loopback on port 12345' },
  { command: '$0 --host 0.0.0.0 --retain-messages 1000000', does: 'Serve the network, keep the newest million messages' },
  { command: '$0 --host 0.0.0.0 --users users.json', does: 'Authenticated mode: only the users in users.json' },
  { command: 'echo s3cret | $0 --hash-secret alice', does: "A users file entry for alice: her secret's verifier, not the secret" },
  { command: '$0 --store memory --port 0', does: 'A throw-away server on any free port (the log says which)' },
  { command: '$0 --http 9100', does: 'Also serve metrics, health and a live status page at http://127.0.0.1:9100/' },
];

const parse = (argv: string[]) =>
  baseParser(NAME, argv)
    .usage('$0 [options]\n\nThe relay server: keeps the message log and the registry of clients.')
    .option('port', { alias: 'p', type: 'string', default: String(DEFAULT_PORT), coerce: portInput(true), describe: 'Port, for UDP and TCP alike (0: any free port)' })
    .option('transport', { type: 'string', default: 'udp,tcp', describe: 'What to serve on the port: udp, tcp, or udp,tcp' })
    .option('tcp-max-connections', { type: 'number', default: TCP_DEFAULTS.connectionsMax, describe: 'Most TCP connections at once' })
    .option('tcp-max-per-host', { type: 'number', default: TCP_DEFAULTS.connectionsPerHostMax, describe: 'Most TCP connections from one host at once' })
    .option('tcp-idle-timeout', { type: 'number', default: TCP_DEFAULTS.idleMs / 1000, describe: 'Seconds after which a TCP connection that sends nothing is closed' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to bind: 0.0.0.0 or :: serves the network' })
    .option('store', {
      type: 'string',
      default: 'sqlite',
      describe:
        "Where the log lives: 'sqlite' (a file under --data-dir), 'memory' (lost on exit), redis://host:port[/db][?prefix=NAME] (shared by several servers), or redis+cluster://host:port[,host:port…][?prefix=NAME] (topics spread over a Redis Cluster's shards)",
    })
    .option('data-dir', { type: 'string', default: './relay-data', describe: "Directory of the sqlite store and of the server's key (created if missing)" })
    .option('key-file', { type: 'string', describe: `The server's key (made there if missing; default: ${SERVER_KEY_FILE} in --data-dir). Servers sharing one store share one key` })
    .option('insecure-plaintext', {
      type: 'boolean',
      default: false,
      describe: 'Encrypt nothing: anyone on the path reads and can change every message. For measuring and debugging only',
    })
    .option('hash-secret', { type: 'string', describe: 'Print the users file entry for this user (its secret read from stdin or RELAY_SECRET), then exit' })
    .option('fsync', {
      type: 'boolean',
      default: false,
      describe: 'Flush every commit to disk: survives power loss, not only a killed server (slower)',
    })
    .option('accept-empty-log', {
      type: 'boolean',
      default: false,
      describe: 'Start although relay.db is empty (or gone) where this data directory held a log',
    })
    .option('recover-to', {
      type: 'string',
      describe: 'Copy what is intact of a damaged relay.db under --data-dir into this new directory, then exit',
    })
    .option('retain-messages', { type: 'number', default: 0, describe: 'Keep the newest N messages (0: all)' })
    .option('retain-bytes', { type: 'number', default: 0, describe: 'Keep at most this many bytes of text (0: no limit)' })
    .option('retain-seconds', { type: 'number', default: 0, describe: 'Keep messages at most this old (0: no limit)' })
    .option('retain', {
      type: 'string',
      array: true,
      describe: "A retention of their own for the topics a pattern names, e.g. 'logs.>:messages=1000000,seconds=604800' (limits not given are the server's); repeat it for more: the first that names a topic is its",
    })
    .option('max-message-bytes', { type: 'number', default: SERVER_DEFAULTS.maxMessageBytes, describe: 'Longest message accepted' })
    .option('datagram-bytes', {
      type: 'number',
      default: SERVER_DEFAULTS.datagramBytes,
      describe: 'Largest datagram sent or accepted (payload bytes)',
    })
    .option('session-timeout', { type: 'number', default: SERVER_DEFAULTS.sessionTimeoutMs / 1000, describe: 'Seconds of silence after which a client is gone' })
    .option('users', {
      type: 'string',
      describe: 'Authenticated mode: a JSON file of user name to verifier, as --hash-secret prints them; keep it chmod 600',
    })
    .option('max-sessions', { type: 'number', default: SERVER_DEFAULTS.sessionsMax, describe: 'Most clients registered at once' })
    .option('max-topics', { type: 'number', default: SERVER_DEFAULTS.topicsMax, describe: 'Most topics served (the default topic counted); a client naming one more is refused' })
    .option('handshake-rate', {
      type: 'number',
      default: SERVER_DEFAULTS.handshakesPerSecond,
      describe: 'Registrations one host may make per second (0: no limit)',
    })
    .option('message-rate', {
      type: 'number',
      default: SERVER_DEFAULTS.messagesPerSecond,
      describe: 'Messages one writer may send per second (0: no limit)',
    })
    .option('http', {
      type: 'string',
      describe: 'Serve /metrics (Prometheus), /healthz, /readyz, /status and a live status page on [HOST:]PORT (loopback unless a host is given)',
    })
    .option('stats-interval', { type: 'number', default: 0, describe: 'Log one line of the main figures every N seconds (0: never)' })
    .option('forget-after', {
      type: 'number',
      default: 30,
      describe: 'Days after which a client not seen is forgotten, with its reader position (0: never)',
    })
    .epilogue(examplesText(NAME, EXAMPLES))
    .parseSync();

type Args = ReturnType<typeof parse>;

export async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args['hash-secret'] !== undefined) return printVerifier(args['hash-secret'], process.stdin, process.stdout);
  const { maxMessageBytes, datagramBytes, users, http: httpAt, transports, retention } = checkArgs(args);
  const logger = await createLogger(NAME, args['log-level'] as LogLevel);
  if (args['recover-to'] !== undefined) return recover(args['data-dir'], args['recover-to'], logger);
  const dataDir = args.store === 'sqlite' ? resolve(args['data-dir']) : undefined;
  const monitor = await Monitor.create({ version: VERSION, storeKind: storeKindOf(args.store), dataDir, logger, statsIntervalS: args['stats-interval'], http: httpAt !== undefined });
  // Served before the store opens: /healthz answers and /readyz says why not yet, however long that takes.
  const http = httpAt && (await serveHttp(httpAt, monitor));
  const statusPage = http && `http://${formatAddress({ address: httpAt!.host, port: http.port })}/`;
  if (statusPage) logger.info({ http: statusPage }, `status page on ${statusPage}`);
  const stores = await openLog(args, retention, logger, monitor).catch(async (err: unknown) => {
    await http?.close();
    throw err;
  });
  monitor.storeOpened(stores.main, () => stores.counts);
  // After the store: a store that cannot open is what the user hears of, and no key is made for nothing.
  const security = await Promise.resolve()
    .then(() => serverSecurity(args, users, logger))
    .catch(async (err: unknown) => {
      await stores.close();
      await http?.close();
      throw err;
    });
  const server = await startServer({
    host: args.host,
    port: args.port,
    udp: transports.udp,
    ...(transports.tcp && { tcp: transports.tcp }),
    stores,
    logger,
    config: {
      ...SERVER_DEFAULTS,
      maxMessageBytes,
      datagramBytes,
      sessionTimeoutMs: args['session-timeout'] * 1000,
      sessionsMax: args['max-sessions'],
      topicsMax: args['max-topics'],
      handshakesPerSecond: args['handshake-rate'],
      messagesPerSecond: args['message-rate'],
      ...security.config,
      randomId,
      randomKey,
      mac: hmacSha256,
      ...(httpAt && { observe: monitor.observe }),
    },
    forgetAfterMs: args['forget-after'] * 86_400_000,
    ...(httpAt && { watch: monitor.watch }),
  }).catch(async (err: NodeJS.ErrnoException) => {
    await stores.close();
    await http?.close();
    throw bindFailure(err, args);
  });
  monitor.started(server);
  // After the store has started its workers.
  favourEventLoop(logger);
  // Signals are handled before anyone is told the server listens: a SIGTERM sent on that line stops it cleanly.
  const stopped = untilSignal(server, logger, () => {
    monitor.readiness.draining = true;
  });
  const served = transports.udp && transports.tcp ? 'UDP and TCP' : transports.tcp ? 'TCP only' : 'UDP only';
  sayListening(logger, { address: server.address, served, host: args.host, store: stores.main.kind, dataDir, users: security.users, statusPage, serverKey: security.fingerprint });

  await stopped;
  monitor.stop();
  await http?.close();
  const st = server.core.stats;
  logger.info(
    { ...st, messagesPerAppend: st.appends > 0 ? Math.round(st.messagesStored / st.appends) : 0 },
    `stopped: ${st.messagesStored} messages stored in ${st.appends} transactions, ${st.malformed} malformed datagrams dropped`,
  );
  return ExitCode.Ok;
}

type HttpAddress = { host: string; port: number };

/** The start-up line: where it listens, the store (and its directory), the mode, the status page. */
function sayListening(
  logger: Logger,
  at: {
    address: Address;
    served: string;
    host: string;
    store: string;
    dataDir?: string | undefined;
    users?: number | undefined;
    statusPage?: string | undefined;
    serverKey: string | undefined;
  },
): void {
  const where = formatAddress(at.address);
  const loopback = at.host === '127.0.0.1' || at.host === '::1' || at.host.startsWith('127.');
  logger.info(
    {
      address: at.address.address,
      port: at.address.port,
      transport: at.served,
      store: at.store,
      dataDir: at.dataDir,
      users: at.users,
      ...(at.statusPage && { http: at.statusPage }),
      serverKey: at.serverKey ?? 'none: plain text',
    },
    (loopback
      ? `listening on ${where} (${at.served}; loopback only: --host 0.0.0.0 serves the network), store ${at.store}`
      : `listening on ${where} (${at.served}), store ${at.store}`) +
      (at.dataDir ? ` in ${at.dataDir}` : '') +
      (at.users !== undefined ? `, authenticated mode (${at.users} users)` : '') +
      (at.serverKey ? `, key ${at.serverKey}` : ', NOT ENCRYPTED') +
      (at.statusPage ? `; status page ${at.statusPage}` : ''),
  );
}

/** The checks yargs cannot make; the users file read. */
function checkArgs(args: Args): {
  maxMessageBytes: number;
  datagramBytes: number;
  users: ReturnType<typeof checkSecurityArgs>;
  http: HttpAddress | undefined;
  transports: { udp: boolean; tcp: TcpLimits | undefined };
  retention: Pick<StoreOptions, 'retention' | 'retentionRules'>;
} {
  if (!isIP(args.host)) throw usage(`invalid --host '${args.host}': expected an IP address such as 127.0.0.1, 0.0.0.0 or ::`);
  for (const k of ['retain-messages', 'retain-bytes', 'retain-seconds'] as const) {
    if (!Number.isInteger(args[k]) || args[k] < 0) throw usage(`invalid --${k} '${args[k]}': expected a whole number, 0 or more`);
  }
  const server = { messages: args['retain-messages'], bytes: args['retain-bytes'], ageMs: args['retain-seconds'] * 1000 };
  const retention = { retention: server, retentionRules: (args.retain ?? []).map((rule) => parseRetentionRule(rule, server)) };
  const maxMessageBytes = args['max-message-bytes'];
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > MESSAGE_BYTES_MAX) {
    throw usage(`invalid --max-message-bytes '${maxMessageBytes}': expected 1 to ${MESSAGE_BYTES_MAX}`);
  }
  const datagramBytes = args['datagram-bytes'];
  if (!Number.isInteger(datagramBytes) || datagramBytes < DATAGRAM_BYTES_MIN || datagramBytes > DATAGRAM_BYTES_MAX) {
    throw usage(`invalid --datagram-bytes '${datagramBytes}': expected ${DATAGRAM_BYTES_MIN} to ${DATAGRAM_BYTES_MAX}`);
  }
  for (const k of ['handshake-rate', 'message-rate'] as const) {
    if (!Number.isInteger(args[k]) || args[k] < 0) throw usage(`invalid --${k} '${args[k]}': expected a whole number, 0 or more`);
  }
  for (const k of ['max-sessions', 'max-topics'] as const) {
    if (!Number.isInteger(args[k]) || args[k] < 1) throw usage(`invalid --${k} '${args[k]}': expected a whole number above 0`);
  }
  const users = checkSecurityArgs(args);
  if (!(args['session-timeout'] >= 2)) throw usage(`invalid --session-timeout '${args['session-timeout']}': expected 2 seconds or more`);

  if (args.store !== 'sqlite' && args.store !== 'memory' && !isRedisSpec(args.store)) {
    throw usage(`invalid --store '${args.store}': expected sqlite, memory, redis://host:port[/db] or redis+cluster://host:port[,host:port…]`);
  }
  if (!(args['stats-interval'] >= 0)) throw usage(`invalid --stats-interval '${args['stats-interval']}': expected seconds, 0 or more`);
  if (!(args['forget-after'] >= 0)) throw usage(`invalid --forget-after '${args['forget-after']}': expected days, 0 or more`);
  const http = args.http === undefined ? undefined : httpAddress(args.http);
  return { maxMessageBytes, datagramBytes, users, http, transports: servedTransports(args), retention };
}

/** --transport udp|tcp|udp,tcp, and the TCP limits when TCP is served. */
function servedTransports(args: Args): { udp: boolean; tcp: TcpLimits | undefined } {
  const names = args.transport.split(',').map((t) => t.trim().toLowerCase());
  if (names.length === 0 || names.some((t) => t !== 'udp' && t !== 'tcp')) throw usage(`invalid --transport '${args.transport}': expected udp, tcp or udp,tcp`);
  for (const k of ['tcp-max-connections', 'tcp-max-per-host'] as const) {
    if (!Number.isInteger(args[k]) || args[k] < 1) throw usage(`invalid --${k} '${args[k]}': expected a whole number above 0`);
  }
  if (!(args['tcp-idle-timeout'] >= 1)) throw usage(`invalid --tcp-idle-timeout '${args['tcp-idle-timeout']}': expected 1 second or more`);
  const tcp = names.includes('tcp')
    ? {
        ...TCP_DEFAULTS,
        connectionsMax: args['tcp-max-connections'],
        connectionsPerHostMax: args['tcp-max-per-host'],
        idleMs: args['tcp-idle-timeout'] * 1000,
      }
    : undefined;
  return { udp: names.includes('udp'), tcp };
}

/** --http [HOST:]PORT: loopback unless a host is given; an IPv6 host in brackets. */
function httpAddress(value: string): HttpAddress {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(value);
  const host = m?.[1]?.replace(/^\[(.*)\]$/, '$1') ?? '127.0.0.1';
  const port = Number(m?.[2]);
  if (!m || !isIP(host) || port > 65535) {
    throw usage(`invalid --http '${value}': expected [HOST:]PORT, such as 9100, 0.0.0.0:9100 or [::1]:9100`);
  }
  return { host, port };
}

async function serveHttp(at: HttpAddress, monitor: Monitor): Promise<HttpMonitor> {
  return startHttpMonitor(at.host, at.port, monitor).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new UserError(`--http: port ${at.port} on ${at.host} is already in use`, ExitCode.StartFailed);
    if (err.code === 'EADDRNOTAVAIL') throw new UserError(`--http: cannot bind ${at.host}: no such local address`, ExitCode.StartFailed);
    if (err.code === 'EACCES') throw new UserError(`--http: not allowed to bind port ${at.port}`, ExitCode.StartFailed);
    throw err;
  });
}

const storeKindOf = (spec: string): string => (spec.startsWith('redis') ? 'redis' : spec);

function openLog(args: Args, retention: Pick<StoreOptions, 'retention' | 'retentionRules'>, logger: Logger, monitor: Monitor): Promise<TopicStores> {
  const opts: StoreOptions = {
    spec: args.store,
    dataDir: args['data-dir'],
    ...retention,
    fsync: args.fsync,
    acceptEmptyLog: args['accept-empty-log'],
    onDamage: (e) => logger.error({ firstId: e.firstId, lastId: e.lastId }, `${e.message}: skipped; readers are told they missed them (run-server --recover-to copies what is intact)`),
    onStatus: (s) => {
      monitor.readiness.storeReachable = s.state !== 'down';
      if (s.state === 'down') monitor.error(`lost the connection to redis (${s.reason})`);
      if (s.state === 'down') logger.error({ reason: s.reason }, `lost the connection to redis (${s.reason}): nothing is acknowledged until it is back`);
      else logger.info('connected to redis again: carrying on');
    },
  };
  return openStore(opts).then((main) => topicStores(main, opts, args['max-topics'])).catch((err: unknown) => {
    if (err instanceof StoreOpenError) throw new UserError(err.message, ExitCode.StartFailed);
    throw err;
  });
}

function bindFailure(err: NodeJS.ErrnoException, args: Args): Error {
  if (err.code === 'EADDRINUSE') {
    const both = args.transport.includes('udp') && args.transport.includes('tcp');
    const hint = both ? ' (for UDP or TCP; --transport serves one alone)' : '';
    return new UserError(`port ${args.port} on ${args.host} is already in use${hint}`, ExitCode.StartFailed);
  }
  if (err.code === 'EADDRNOTAVAIL') return new UserError(`cannot bind ${args.host}: no such local address`, ExitCode.StartFailed);
  if (err.code === 'EACCES') return new UserError(`not allowed to bind port ${args.port}`, ExitCode.StartFailed);
  return err;
}

/** Resolves once a first SIGINT or SIGTERM has stopped the server; a second SIGINT exits at once. */
function untilSignal(server: { stop(): Promise<void> }, logger: Logger, draining: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      draining();
      process.once('SIGINT', () => process.exit(ExitCode.Interrupted));
      logger.info({ signal }, 'stopping: finishing stores in progress');
      server.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

export const run = (): void => runCommand(NAME, () => main(hideBin(process.argv)));

/** --recover-to: copies what is intact of a damaged log into a new data directory. */
async function recover(dataDir: string, toDir: string, logger: Logger): Promise<number> {
  const { salvageSqlite } = await import('../store/sqlite-salvage.js');
  const r = await salvageSqlite(dataDir, toDir).catch((err: unknown) => {
    if (err instanceof StoreOpenError) throw new UserError(err.message, ExitCode.StartFailed);
    throw err;
  });
  logger.info(
    { ...r },
    `recovered ${r.messages} messages (ids ${r.first}–${r.next - 1}) into ${toDir}; ${r.damagedRecords} damaged records left behind; ` +
      `${r.positions} reader positions. Start the server with --data-dir ${toDir}`,
  );
  return ExitCode.Ok;
}
