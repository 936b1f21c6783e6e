import type { ServerStats } from '../core/server/server-core.js';
import type { ServerSnapshot } from '../core/server/server-snapshot.js';
import type { LogSize } from '../store/store.js';
import type { RateHistory } from './rate-history.js';
import type { Readiness } from './readiness.js';

/** Something that went wrong lately, as the log said it. */
export interface RecentError {
  at: string;
  text: string;
}

export interface StatusDocument {
  server: 'udp-relay';
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  address: string | null;
  dataDir: string | null;
  store: { kind: string; up: boolean; ready: boolean; reason: string | null };
  sessions: ServerSnapshot['sessions'];
  log: { first: number; next: number; messages: number; bytes: number } | null;
  rates: { linesPerSecond: number; linesPerSecondMinute: number; datagramsPerSecond: number };
  /** Lines/s of each of the last seconds, oldest first. */
  history: number[];
  writers: { name: string; topic?: string; stored: number; linesPerSecond: number }[];
  readers: ServerSnapshot['readers'];
  groups: ServerSnapshot['groups'];
  counters: ServerStats | null;
  recentErrors: RecentError[];
}

export interface StatusParts {
  version: string;
  startedAt: number;
  now: number;
  address: string | undefined;
  dataDir: string | undefined;
  storeKind: string;
  readiness: Readiness;
  stats: ServerStats | undefined;
  snapshot: ServerSnapshot | undefined;
  size: LogSize | undefined;
  rates: RateHistory;
  errors: readonly RecentError[];
}

/** The /status document (in the spirit of NATS's /varz): one JSON object with everything a person checks. */
export function statusDocument(p: StatusParts): StatusDocument {
  const snap = p.snapshot;
  const round = (n: number): number => Math.round(n * 10) / 10;
  return {
    server: 'udp-relay',
    version: p.version,
    startedAt: new Date(p.startedAt).toISOString(),
    uptimeSeconds: Math.floor((p.now - p.startedAt) / 1000),
    address: p.address ?? null,
    dataDir: p.dataDir ?? null,
    store: { kind: p.storeKind, up: p.readiness.storeUp, ready: p.readiness.ready, reason: p.readiness.reason ?? null },
    sessions: snap?.sessions ?? { writers: 0, readers: 0, observers: 0, total: 0 },
    log: p.size ? { first: p.size.first, next: p.size.next, messages: p.size.next - p.size.first, bytes: p.size.bytes } : null,
    rates: {
      linesPerSecond: round(p.rates.linesPerSecond(1)),
      linesPerSecondMinute: round(p.rates.linesPerSecond(60)),
      datagramsPerSecond: round(p.rates.datagramsPerSecond(1)),
    },
    history: p.rates.series().map(round),
    writers: (snap?.writers ?? []).map((w) => ({ ...w, linesPerSecond: round(p.rates.writerRate(w.name)) })),
    readers: snap?.readers ?? [],
    groups: snap?.groups ?? [],
    counters: p.stats ? { ...p.stats } : null,
    recentErrors: [...p.errors],
  };
}
