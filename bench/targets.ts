import { median } from './stats.js';

/** The figures of one bench run that the performance targets are judged on (medians over the runs). */
export interface Measured {
  /** `seq 1 1,000,000`, sqlite store, and core NATS in the same runs: lines/s, run by run. */
  throughput1M?: { ours: number[]; coreNats: number[] };
  /** p50/p99 in ms, run by run, of ours and of the bare three-process Node floor, by lines sent first. */
  latency?: { warmup: number; ours: { p50: number[]; p99: number[] }; floor: { p50: number[]; p99: number[] } }[];
  /** The server's RSS in MB: at each log size, its peak, after idle; and a bare Node process's. */
  memory?: { worstAtSizeMb: number; peakMb: number; idleMb: number; bareNodeMb: number; ownAtWorstMb: number };
  /** 10,000 readers: did every one get every message. */
  fanout10k?: { allReceived: boolean; serverCpuPercent: number };
  /** CPU µs per line of the busiest process in the profiled run, its name, and its share in GC. */
  profile?: { command: string; usPerLine: number; gcShare: number };
}

const x = (v: number): string => `${v.toFixed(2)}×`;
const rowsOf = (m: Measured): string[][] => {
  const rows: string[][] = [];
  if (m.throughput1M) {
    const ours = median(m.throughput1M.ours);
    const vsNats = median(m.throughput1M.ours.map((o, i) => o / m.throughput1M!.coreNats[i]!));
    const limit = m.profile
      ? `${m.profile.command} is the busiest process: ${m.profile.usPerLine.toFixed(2)} µs of CPU per line (${Math.round(m.profile.gcShare * 100)}% of it in GC), where 1,000,000 lines/s allows 1 µs`
      : '';
    rows.push(['`seq 1 1000000` ≥ 1,000,000 lines/s, exactly once, durable', `${Math.round(ours).toLocaleString('en')} lines/s`, ours >= 1e6 ? 'met' : `missed: ${x(1e6 / ours)} short`, limit]);
    rows.push(['at least 2× core NATS', `${x(vsNats)} core NATS`, vsNats >= 2 ? 'met' : `missed: ${x(2 / vsNats)} short`, limit]);
  }
  for (const l of m.latency ?? []) {
    for (const p of ['p50', 'p99'] as const) {
      const r = median(l.ours[p].map((o, i) => o / l.floor[p][i]!));
      rows.push([
        `${p} within 1.25× the bare Node floor, ${l.warmup.toLocaleString('en')} lines first`,
        `${median(l.ours[p]).toFixed(2)} ms, ${x(r)} the floor (${median(l.floor[p]).toFixed(2)} ms)`,
        r <= 1.25 ? 'met' : `missed: ${x(r / 1.25)} over`,
        '',
      ]);
    }
    if (l.warmup >= 3_000) {
      const p99 = median(l.ours.p99);
      rows.push(['p99 ≤ 1 ms steady', `${p99.toFixed(2)} ms`, p99 <= 1 ? 'met' : `missed: ${x(p99)} over`, '']);
    }
  }
  if (m.memory) {
    const worst = Math.max(m.memory.worstAtSizeMb, m.memory.idleMb);
    rows.push([
      'server RSS ≤ 64 MB at every log size up to 10,000,000 and after idle',
      `${Math.round(m.memory.worstAtSizeMb)} MB at worst, ${Math.round(m.memory.idleMb)} MB after idle (peak ${Math.round(m.memory.peakMb)})`,
      worst <= 64 ? 'met' : `missed: ${x(worst / 64)} over`,
      `a bare Node process holds ${Math.round(m.memory.bareNodeMb)} MB; the server's own memory (anonymous pages) at worst: ${Math.round(m.memory.ownAtWorstMb)} MB`,
    ]);
  }
  if (m.fanout10k) {
    rows.push(['fan-out to 10,000 readers, every reader gets every message', `${m.fanout10k.allReceived ? 'all delivered' : 'not all delivered'}, server ${Math.round(m.fanout10k.serverCpuPercent)}% of a core`, m.fanout10k.allReceived ? 'met' : 'missed', '']);
  }
  return rows;
}

/** The targets table: each target, what this run measured, met or by how much it is missed, and what limits it. */
export function targetsTable(m: Measured): string[] {
  const rows = rowsOf(m);
  if (rows.length === 0) return [];
  return ['| target | measured | verdict | what limits it |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)];
}
