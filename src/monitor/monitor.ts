import type { Logger } from 'pino';
import { formatAddress, formatEndpoint } from '../core/address.js';
import type { ServerEvent } from '../core/server/server-core.js';
import type { RunningServer, ServerWatch } from '../io/server-runtime.js';
import type { Store, TopicCounts } from '../store/store.js';
import { storeFailureReason } from '../store/store-errors.js';
import { RateHistory } from './rate-history.js';
import { Readiness } from './readiness.js';
import type { RelayMetrics } from './relay-metrics.js';
import { ServerView } from './server-view.js';
import { statusDocument, type RecentError, type StatusDocument } from './status-document.js';

/** Errors kept for /status and the page. */
const RECENT_ERRORS = 20;

export interface MonitorOptions {
  version: string;
  storeKind: string;
  dataDir: string | undefined;
  logger: Logger;
  /** Seconds between two log lines of figures (0: none). */
  statsIntervalS: number;
  /** Served over HTTP (--http): metrics are collected. */
  http: boolean;
}

/**
 * Everything an operator sees of a running server: metrics, readiness, the status document, rates, and
 * the figures logged every --stats-interval. It samples the server once a second while it watches.
 */
export class Monitor {
  readonly readiness = new Readiness();
  readonly view = new ServerView(Date.now);
  /** Only with --http: the collectors (the process's among them) cost nothing when nobody scrapes. */
  readonly metrics: RelayMetrics | undefined;
  private readonly rates = new RateHistory();
  private readonly errors: RecentError[] = [];
  private readonly startedAt = Date.now();
  private server: RunningServer | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The stored counter at the last --stats-interval line. */
  private lastFigures: { at: number; stored: number } | undefined;

  /** The metrics (and prom-client) are loaded only with --http: a server without it starts that much sooner. */
  static async create(opts: MonitorOptions): Promise<Monitor> {
    return new Monitor(opts, opts.http ? (await import('./relay-metrics.js')).RelayMetrics : undefined);
  }

  private constructor(
    private readonly opts: MonitorOptions,
    Metrics: typeof RelayMetrics | undefined,
  ) {
    this.metrics = Metrics && new Metrics(this.view, this.readiness);
  }

  /** What the server runtime tells the monitor as it runs. */
  readonly watch: ServerWatch = {
    event: (e: ServerEvent) => {
      if (e.type === 'store-error') this.error(`store error during ${e.op}: ${storeFailureReason(e.error)}`);
      else if (e.type === 'refused') this.error(`refused ${e.name} from ${formatEndpoint(e.addr)}: ${e.reason}`);
    },
    commit: (ms, messages) => this.metrics?.commit(ms, messages),
  };

  /** The config hook a server core reports its replies through. */
  readonly observe = { fetchReply: (messages: number): void => this.metrics?.fetchReply(messages) };

  /** The default topic's store (the log figures are its), and how many topics there are. */
  storeOpened(store: Store, topics?: () => TopicCounts): void {
    this.view.store = store;
    this.view.topics = topics;
    this.readiness.storeOpen = true;
  }

  started(server: RunningServer): void {
    this.readiness.listening = true;
    this.server = server;
    this.view.core = server.core;
    this.view.tcp = server.tcp;
    const every = this.opts.statsIntervalS;
    if (!this.opts.http && every <= 0) return;
    this.sample();
    this.timers.push(setInterval(() => this.sample(), 1000).unref());
    if (every > 0) this.timers.push(setInterval(() => void this.logFigures(every), every * 1000).unref());
  }

  /** Something that went wrong, for /status and the page (the log has said it already). */
  error(text: string): void {
    this.errors.push({ at: new Date().toISOString(), text });
    if (this.errors.length > RECENT_ERRORS) this.errors.shift();
  }

  async status(): Promise<StatusDocument> {
    return statusDocument({
      version: this.opts.version,
      startedAt: this.startedAt,
      now: Date.now(),
      address: this.server && formatAddress(this.server.address),
      dataDir: this.opts.dataDir,
      storeKind: this.opts.storeKind,
      readiness: this.readiness,
      stats: this.view.core?.stats,
      snapshot: this.view.snapshot(),
      size: await this.view.logSize(this.readiness.storeUp),
      rates: this.rates,
      errors: this.errors,
    });
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  private sample(): void {
    const core = this.view.core;
    const snap = this.view.snapshot();
    if (core && snap) this.rates.sample(Date.now(), core.stats, snap);
  }

  /** One line of the main figures (mosquitto's $SYS in spirit, for those without Prometheus). */
  private async logFigures(seconds: number): Promise<void> {
    const s = await this.status();
    const lagging = s.readers[0];
    // From the counter itself, not the rate history: an interval may be longer than the history kept.
    const stored = s.counters?.messagesStored ?? 0;
    const at = Date.now();
    const since = this.lastFigures ?? { at: this.startedAt, stored: 0 };
    this.lastFigures = { at, stored };
    const lineRate = at > since.at ? Math.round(((stored - since.stored) * 1000) / (at - since.at)) : 0;
    this.opts.logger.info(
      {
        stats: {
          linesPerSecond: lineRate,
          writers: s.sessions.writers,
          readers: s.sessions.readers,
          stored: s.counters?.messagesStored ?? 0,
          log: s.log,
          maxLag: lagging?.lag ?? 0,
          ready: s.store.ready,
        },
      },
      `${lineRate} lines/s over the last ${seconds} s, ${s.sessions.writers} writers, ${s.sessions.readers} readers` +
        (lagging ? `, furthest behind ${lagging.name} by ${lagging.lag}` : '') +
        (s.log ? `, log ${s.log.messages} messages (${s.log.bytes} bytes)` : '') +
        (s.store.ready ? '' : `, not ready: ${s.store.reason}`),
    );
  }
}
