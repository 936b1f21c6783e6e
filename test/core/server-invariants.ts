import type { ServerCore, ServerStats } from '../../src/core/server/server-core.js';
import { SNAPSHOT_TOP } from '../../src/core/server/server-snapshot.js';

/** Each server's counters as last checked: a counter never goes back. */
const lastStats = new WeakMap<ServerCore, ServerStats>();

/**
 * What must hold between any two inputs of a server (src/core/server/invariants.ts), and what a monitor
 * reads of it (its snapshot and counters), each broken one described.
 */
export function serverInvariants(core: ServerCore): string[] {
  return [...core.invariants(), ...monitoringInvariants(core)];
}

function monitoringInvariants(core: ServerCore): string[] {
  const broken: string[] = [];
  const snap = core.snapshot();
  const { writers, readers, observers, total } = snap.sessions;
  if (writers + readers + observers > total) broken.push(`snapshot counts ${writers + readers + observers} open sessions of ${total}`);
  for (const list of [snap.readers, snap.groups, snap.writers]) if (list.length > SNAPSHOT_TOP) broken.push(`snapshot names ${list.length} > ${SNAPSHOT_TOP}`);
  if (snap.readers.length > readers) broken.push(`snapshot names ${snap.readers.length} readers of ${readers}`);
  for (const r of [...snap.readers, ...snap.groups]) {
    if (r.topic === undefined && r.lag !== Math.max(0, snap.logNext - r.position)) broken.push(`${r.name}: lag ${r.lag} at ${r.position} of ${snap.logNext}`);
  }
  const lags = snap.readers.map((r) => r.lag);
  if (lags.some((l, i) => i > 0 && l > lags[i - 1]!)) broken.push(`readers not furthest behind first: ${lags}`);
  const stored = snap.writers.reduce((n, w) => n + w.stored, 0);
  if (stored > core.stats.messagesStored) broken.push(`writers stored ${stored} > ${core.stats.messagesStored} stored in all`);
  const last = lastStats.get(core);
  if (last) {
    for (const k of Object.keys(last) as (keyof ServerStats)[]) {
      if (core.stats[k] < last[k]) broken.push(`counter ${k} went back from ${last[k]} to ${core.stats[k]}`);
    }
  }
  lastStats.set(core, { ...core.stats });
  return broken;
}
