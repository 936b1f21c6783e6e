/**
 * `npm run bench [-- --repeats 3] [--only throughput,latency,...] [--quick]`
 *
 * Every comparison is measured side by side in one run, the contenders alternating, so that the
 * machine's noise hits them alike: ratios matter, absolute figures on a shared machine do not.
 * Prints a Markdown report and writes it to bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arch, cpus, platform, tmpdir, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { dgramCeiling } from './dgram-ceiling.js';
import { dgramLatency } from './dgram-latency.js';
import { fanout, idleSessionCost, type FanoutResult } from './fanout.js';
import { percentile, relayLatency } from './latency.js';
import { lightLoad } from './light-load.js';
import { bareNodeRss, logGrowth, type Growth } from './log-growth.js';
import { mosquittoLatency, mosquittoThroughput, startBroker, type Broker } from './mosquitto.js';
import { ensureNats, natsThroughput, type NatsMode } from './nats.js';
import { median, relayThroughput } from './relay.js';
import { appendRate } from './store-append.js';
import { mergeResults } from './results-file.js';
import { startRedis, type RedisServer } from '../test/store/redis-server.js';
import { startRedisCluster } from '../test/store/redis-cluster.js';
import { topicsThroughput } from './topics-throughput.js';
import { profiledThroughput } from './profile.js';
import { targetsTable, type Measured } from './targets.js';
import { seedTopics, topicsScale, type ScaleResult } from './topics-scale.js';

const SECTIONS = ['throughput', 'profile', 'encryption', 'latency', 'fanout', 'sessions', 'growth', 'light', 'appends', 'lossy', 'metrics', 'cluster', 'topics'] as const;
type Section = (typeof SECTIONS)[number];

const { values: opts } = parseArgs({
  options: {
    repeats: { type: 'string', default: '3' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const repeats = Number(opts.repeats);
const quick = opts.quick;
const only = new Set((opts.only ?? SECTIONS.join(',')).split(',') as Section[]);
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`unknown section '${s}': expected some of ${SECTIONS.join(',')}`);

/** The CPU counters of /proc/stat (Linux): all ticks and steal ticks. */
const cpuTicks = (): { all: number; steal: number } | undefined => {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { all: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return undefined;
  }
};
/** The share of CPU time stolen by the host since `start`. */
const cpuSteal = (start: ReturnType<typeof cpuTicks>): number | undefined => {
  const end = cpuTicks();
  if (!start || !end || end.all === start.all) return undefined;
  return (end.steal - start.steal) / (end.all - start.all);
};
const stealAtStart = cpuTicks();

const out: string[] = [];
const say = (line = ''): void => {
  out.push(line);
  console.log(line);
};
const progress = (line: string): void => console.error(`  ${line}`);
const int = (x: number): string => Math.round(x).toLocaleString('en');
const ms = (x: number): string => x.toFixed(2);
/** Median (min–max) of repeated measurements. */
const spread = (xs: number[], f: (x: number) => string = int): string => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
/** a ÷ b run by run (a[i] and b[i] were measured one after the other), as median (min–max). */
const ratio = (a: number[], b: number[]): string => {
  const rs = a.map((x, i) => x / b[i]!);
  const f = (x: number): string => `${x.toFixed(2)}×`;
  return rs.length > 1 ? spread(rs, f) : f(rs[0]!);
};
/** The version of the `nats` package the bench's clients use. */
const natsPackage = (): string => (JSON.parse(readFileSync(new URL('../node_modules/nats/package.json', import.meta.url), 'utf8')) as { version: string }).version;
/** The first line a command prints about itself (mosquitto -h prints its version, and exits 3). */
const version = (cmd: string, args: string[]): string => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return 'not installed';
  return `${r.stdout}${r.stderr}`.split('\n')[0]!.trim();
};

/** What the targets table at the end is judged on, filled in by the sections as they run. */
const measured: Measured = {};

let broker: Broker | undefined;
const mqtt = async (): Promise<Broker> => (broker ??= await startBroker());
let redis: RedisServer | undefined;
let redisLogs = 0;
/** A fresh log (its own key prefix) in the bench's own redis-server. */
const redisStore = async (): Promise<string[]> => ['--store', (redis ??= await startRedis('everysec')).url(`bench${++redisLogs}`)];

say('# udp-relay bench');
say();
say(`${new Date().toISOString()} · ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} · ${Math.round(totalmem() / 2 ** 30)} GiB · ${platform()} ${arch()} · Node ${process.version}`);
say();
say(`Each figure: median (min–max) of ${repeats} runs${quick ? ', quick mode (shorter runs)' : ''}, the contenders alternating run by run; a ratio is taken run by run (each pair measured one after the other), then its median (min–max). Loopback.`);

if (only.has('throughput')) {
  const sizes = quick ? [300_000] : [300_000, 1_000_000];
  say();
  say('## Throughput: `seq 1 N` from a writer to a reader, output checked equal to input');
  say();
  say('Timed from the writer\'s start to the reader\'s last line, process start-up included.');
  say('udp-relay: `run-writer` → `run-server` (sqlite store, the default: every line on disk, exactly once) → `run-reader --format raw`.');
  await mqtt(); // installs mosquitto when missing, so its version can be named
  await redisStore();
  say(`mosquitto (${version('mosquitto', ['-h'])}): \`mosquitto_pub -l\` → broker → \`mosquitto_sub\`; QoS 1 with \`max_queued_messages 0\`, fed in runs of 60,000 lines.`);
  say(`Redis store: one server on a local Redis ${/v=(\S+)/.exec(version('redis-server', ['--version']))?.[1] ?? '(version unknown)'}, append-only file with \`appendfsync everysec\`.`);
  say('Bare dgram: a Node process forwarding every datagram to a sink, no reliability, no store (what is lost is not counted).');
  ensureNats();
  say(`NATS (${version('nats-server', ['--version'])}, a fresh server per run, JetStream on a temporary directory) with clients on the official \`nats\` npm package (${natsPackage()}), each a process of its own (bench/nats-client.mjs): JetStream file stream, the publisher awaiting acks with 8,192 in flight, a durable pull consumer (\`consume()\`) acking each message; the same with a \`Nats-Msg-Id\` on each message (the server drops a repeat within its 2-minute window: the nearest to our exactly once); core NATS publish/subscribe (at most once, nothing stored).`);
  say('Server peak RSS: the server process\'s high-water mark over the run (`VmHWM`).');
  for (const n of sizes) {
    const r: Record<string, number[]> = { sqlite: [], follow: [], tcp: [], memory: [], redis: [], q0: [], q1: [], natsJs: [], natsDedup: [], natsCore: [], dgram1: [], dgramPacked: [] };
    const rss: Record<string, number[]> = {};
    const relayRun = async (key: string, label: string, ...args: Parameters<typeof relayThroughput>): Promise<void> => {
      const res = await relayThroughput(...args);
      if (!res.outputMatches) throw new Error(`udp-relay ${label}: output differs from input`);
      r[key]!.push(res.linesPerSecond);
      (rss[key] ??= []).push(res.serverRssMb);
      progress(`N=${n} udp-relay ${label}: ${int(res.linesPerSecond)} lines/s, server peak RSS ${int(res.serverRssMb)} MB`);
    };
    for (let i = 0; i < repeats; i++) {
      for (const store of ['sqlite', 'memory', 'redis']) await relayRun(store, store, n, store === 'redis' ? await redisStore() : ['--store', store]);
      await relayRun('follow', 'sqlite, run-writer --follow', n, ['--store', 'sqlite'], undefined, undefined, [], true);
      await relayRun('tcp', 'sqlite over TCP', n, ['--store', 'sqlite'], undefined, undefined, ['--transport', 'tcp']);
      for (const [key, mode] of [['natsJs', 'js'], ['natsDedup', 'js-dedup'], ['natsCore', 'core']] as [string, NatsMode][]) {
        const res = await natsThroughput(n, mode);
        if (!res.outputMatches) throw new Error(`NATS ${mode}: output differs from input`);
        r[key]!.push(res.linesPerSecond);
        (rss[key] ??= []).push(res.serverRssMb);
        progress(`N=${n} NATS ${mode}: ${int(res.linesPerSecond)} lines/s, server peak RSS ${int(res.serverRssMb)} MB`);
      }
      for (const qos of [0, 1] as const) {
        const res = await mosquittoThroughput(broker!.port, n, qos);
        if (!res.outputMatches) throw new Error(`mosquitto QoS ${qos}: output differs from input`);
        r[`q${qos}`]!.push(res.linesPerSecond);
        progress(`N=${n} mosquitto QoS ${qos}: ${int(res.linesPerSecond)} lines/s`);
      }
      const base = 20_000 + Math.floor(Math.random() * 20_000) * 2;
      r['dgram1']!.push((await dgramCeiling(n, false, base)).linesPerSecond);
      r['dgramPacked']!.push((await dgramCeiling(n, true, base)).linesPerSecond);
      progress(`N=${n} bare dgram: ${int(r['dgram1']!.at(-1)!)} / ${int(r['dgramPacked']!.at(-1)!)} lines/s`);
    }
    say();
    say(`### N = ${int(n)}`);
    say();
    say('| path | lines/s | udp-relay (sqlite) ÷ this | server peak RSS, MB |');
    say('|---|---|---|---|');
    const row = (name: string, key: string): void =>
      say(`| ${name} | ${spread(r[key]!)} | ${key === 'sqlite' ? '—' : ratio(r['sqlite']!, r[key]!)} | ${rss[key] ? spread(rss[key]) : '—'} |`);
    row('udp-relay, sqlite store', 'sqlite');
    row('udp-relay, sqlite store, the lines shipped from a file (`run-writer --follow`, the file written first)', 'follow');
    row('udp-relay, sqlite store, clients over TCP (`--transport tcp`)', 'tcp');
    row('udp-relay, memory store', 'memory');
    row('udp-relay, redis store', 'redis');
    row('mosquitto QoS 0 (at most once)', 'q0');
    row('mosquitto QoS 1 (at least once)', 'q1');
    row('NATS JetStream, publisher awaiting acks, pull consumer acking each (at least once)', 'natsJs');
    row('NATS JetStream with `Nats-Msg-Id` de-duplication', 'natsDedup');
    row('core NATS (at most once, nothing stored)', 'natsCore');
    row('bare dgram relay, one line per datagram', 'dgram1');
    row('bare dgram relay, ~1,200-byte datagrams', 'dgramPacked');
    if (n === 1_000_000) measured.throughput1M = { ours: r['sqlite']!, coreNats: r['natsCore']! };
  }
}

if (only.has('profile')) {
  const n = quick ? 300_000 : 1_000_000;
  const { run, profiles } = await profiledThroughput(n);
  progress(`profiled N=${n}: ${int(run.linesPerSecond)} lines/s`);
  say();
  say(`## Where the CPU goes: \`seq 1 ${int(n)}\`, sqlite store, each process under V8's sampling profiler`);
  say();
  say(
    `One run as in the throughput section, with \`--cpu-prof\` in each process (the profiler itself costs some): ${int(run.linesPerSecond)} lines/s. CPU time sampled busy over the process's life (start-up included); self time of the busiest functions (bundle file names without their chunk hash).`,
  );
  say();
  say('| process | CPU busy, ms | µs per line | in GC | busiest functions (self time) |');
  say('|---|---|---|---|---|');
  for (const p of profiles) {
    const top = p.top.map((f) => `${f.name.replaceAll('|', '\\|')} ${Math.round(f.ms)} ms`).join('; ');
    say(`| ${p.command} | ${int(p.busyMs)} | ${((p.busyMs * 1000) / n).toFixed(2)} | ${Math.round((100 * p.gcMs) / p.busyMs)}% | ${top} |`);
  }
  const busiest = profiles.reduce((a, b) => (b.busyMs > a.busyMs ? b : a));
  measured.profile = { command: busiest.command, usPerLine: (busiest.busyMs * 1000) / n, gcShare: busiest.gcMs / busiest.busyMs };
  say();
  say(
    `The run took ${(run.seconds * 1000).toFixed(0)} ms; ${busiest.command} was busy ${Math.round((100 * busiest.busyMs) / (run.seconds * 1000))}% of it (start-up included): one process on one core bounds the rate at ${int(n / (busiest.busyMs / 1000))} lines/s.`,
  );
}

if (only.has('encryption')) {
  // What encryption costs: the same runs with every session encrypted (the default) and in plain text
  // (`--insecure-plaintext` on the server and both clients), alternating.
  const PLAIN = '--insecure-plaintext';
  const sizes = quick ? [300_000] : [300_000, 1_000_000];
  const tput: Record<string, { enc: number[]; plain: number[] }> = {};
  for (const n of sizes) {
    const e: { enc: number[]; plain: number[] } = (tput[n] = { enc: [], plain: [] });
    for (let i = 0; i < Math.max(repeats, 3); i++) {
      for (const plain of [false, true]) {
        const res = await relayThroughput(n, ['--store', 'sqlite', ...(plain ? [PLAIN] : [])], undefined, undefined, plain ? [PLAIN] : []);
        if (!res.outputMatches) throw new Error(`udp-relay ${plain ? 'plain text' : 'encrypted'}: output differs from input`);
        (plain ? e.plain : e.enc).push(res.linesPerSecond);
        progress(`N=${n} udp-relay sqlite, ${plain ? 'plain text' : 'encrypted'}: ${int(res.linesPerSecond)} lines/s`);
      }
    }
  }
  const count = 1_000;
  const lat: Record<string, { p50: number[]; p99: number[] }> = {};
  for (let i = 0; i < repeats; i++) {
    for (const warmup of [100, 3_000]) {
      for (const plain of [false, true]) {
        const v = await relayLatency(count, warmup, ['--store', 'sqlite', ...(plain ? [PLAIN] : [])], plain ? [PLAIN] : []);
        if (v.length !== count) throw new Error(`latency ${plain ? 'plain text' : 'encrypted'}: ${v.length} of ${count} lines arrived`);
        const e = (lat[`${plain ? 'plain' : 'enc'}|${warmup}`] ??= { p50: [], p99: [] });
        e.p50.push(percentile(v, 50));
        e.p99.push(percentile(v, 99));
        progress(`latency ${plain ? 'plain text' : 'encrypted'} after ${warmup}: p50 ${ms(e.p50.at(-1)!)} p99 ${ms(e.p99.at(-1)!)} ms`);
      }
    }
  }
  say();
  say('## Encryption: every session sealed (the default) vs plain text (`--insecure-plaintext`), sqlite store');
  say();
  say('Throughput as in the first section; latency as in the next (1,000 lines 1 ms apart). The runs alternate.');
  say();
  say('| N | encrypted, lines/s | plain text, lines/s | encrypted ÷ plain text |');
  say('|---|---|---|---|');
  for (const n of sizes) say(`| ${int(n)} | ${spread(tput[n]!.enc)} | ${spread(tput[n]!.plain)} | ${ratio(tput[n]!.enc, tput[n]!.plain)} |`);
  say();
  say('| lines first | encrypted p50 | plain text p50 | p50 encrypted − plain text, ms | encrypted p99 | plain text p99 |');
  say('|---|---|---|---|---|---|');
  for (const w of [100, 3_000]) {
    const e = lat[`enc|${w}`]!;
    const p = lat[`plain|${w}`]!;
    say(`| ${int(w)} | ${spread(e.p50, ms)} | ${spread(p.p50, ms)} | ${ms(median(e.p50) - median(p.p50))} | ${spread(e.p99, ms)} | ${spread(p.p99, ms)} |`);
  }
  say();
  say('Targets: encrypted throughput at least 0.8× plain text; p50 within +0.1 ms of plain text.');
}

if (only.has('metrics')) {
  // What an operator's Prometheus costs: the same run without --http, with it and nobody scraping, and
  // with /metrics scraped every second.
  const n = quick ? 300_000 : 1_000_000;
  const runs: { name: string; args: string[]; scrapeMs?: number; lps: number[] }[] = [
    { name: 'no `--http`', args: [], lps: [] },
    { name: '`--http 0`, nobody scraping', args: ['--http', '0'], lps: [] },
    { name: '`--http 0`, `/metrics` every second', args: [], scrapeMs: 1000, lps: [] },
  ];
  for (let i = 0; i < Math.max(repeats, 5); i++) {
    for (const c of runs) {
      const res = await relayThroughput(n, ['--store', 'sqlite', ...c.args], undefined, c.scrapeMs);
      if (!res.outputMatches) throw new Error('udp-relay: output differs from input');
      c.lps.push(res.linesPerSecond);
      progress(`N=${n} udp-relay sqlite, ${c.name}: ${int(res.linesPerSecond)} lines/s`);
    }
  }
  say();
  say(`## Monitoring: throughput with \`--http\` and \`/metrics\` scraped every second (N = ${int(n)}, sqlite store)`);
  say();
  say('| run | lines/s | no `--http` ÷ this |');
  say('|---|---|---|');
  for (const c of runs) say(`| ${c.name} | ${spread(c.lps)} | ${c === runs[0] ? '—' : ratio(runs[0]!.lps, c.lps)} |`);
  say();
  say('Scraping must cost at most 2% (a ratio of 1.02 or less).');
}

if (only.has('latency')) {
  const count = 1_000;
  // Just started (100 lines first), and steady (3,000 lines, 3 s of traffic, first): a fresh Node process
  // is still compiling its hot paths for a few seconds, and on two cores that shows in the tail.
  const warmups = [100, 3_000];
  const p: Record<string, { p50: number[]; p99: number[]; max: number[] }> = {};
  const contenders: [string, (warmup: number) => Promise<number[]>][] = [
    ['udp-relay, sqlite store, `--delay 0`', (w) => relayLatency(count, w)],
    ['udp-relay, sqlite store, `--delay 0`, clients over TCP', (w) => relayLatency(count, w, ['--store', 'sqlite'], ['--transport', 'tcp'])],
    ['mosquitto QoS 0', async (w) => mosquittoLatency((await mqtt()).port, count, w, 0)],
    ['mosquitto QoS 1', async (w) => mosquittoLatency((await mqtt()).port, count, w, 1)],
    ['bare Node `dgram`, three processes, no reliability (a floor)', (w) => dgramLatency(count, w, 20_000 + Math.floor(Math.random() * 10_000) * 3)],
  ];
  for (let i = 0; i < repeats; i++) {
    for (const warmup of warmups) {
      for (const [name, measure] of contenders) {
        const v = await measure(warmup);
        // The bare relay resends nothing: a lost line is only missing from its figures.
        if (v.length !== count && !name.startsWith('bare')) throw new Error(`${name}: ${v.length} of ${count} lines arrived`);
        const e = (p[`${name}|${warmup}`] ??= { p50: [], p99: [], max: [] });
        e.p50.push(percentile(v, 50));
        e.p99.push(percentile(v, 99));
        e.max.push(Math.max(...v));
        progress(`latency ${name} after ${warmup}: p50 ${ms(e.p50.at(-1)!)} p99 ${ms(e.p99.at(-1)!)} ms`);
      }
    }
  }
  say();
  say(`## Latency: ${int(count)} lines 1 ms apart, each carrying its send time`);
  say();
  say('From the line written into the writer\'s stdin to the line read from the reader\'s stdout, in ms, every process started afresh for each run.');
  say('Lines sent the same way before the measured ones warm each path up: 100 (just started: mosquitto_pub\'s first lines wait for its connection),');
  say('or 3,000 (steady: a Node process compiles its hot paths during its first seconds of traffic, which on two cores shows in the tail).');
  say('The bare `dgram` row is three Node processes that only pass each chunk on (stdin → UDP → UDP → stdout): what any Node relay of three processes starts from here.');
  say();
  say('| path | lines first | p50 | p99 | max |');
  say('|---|---|---|---|---|');
  for (const [key, e] of Object.entries(p)) {
    const [name, warmup] = key.split('|');
    say(`| ${name} | ${int(Number(warmup))} | ${spread(e.p50, ms)} | ${spread(e.p99, ms)} | ${spread(e.max, ms)} |`);
  }
  say();
  for (const w of warmups) {
    const udp = p[`${contenders[0]![0]}|${w}`]!;
    const tcp = p[`${contenders[1]![0]}|${w}`]!;
    say(`Clients over TCP ÷ over UDP, ${int(w)} lines first: p50 ${ratio(tcp.p50, udp.p50)}, p99 ${ratio(tcp.p99, udp.p99)}.`);
  }
  measured.latency = warmups.map((w) => {
    const ours = p[`${contenders[0]![0]}|${w}`]!;
    const floor = p[`${contenders[4]![0]}|${w}`]!;
    return { warmup: w, ours: { p50: ours.p50, p99: ours.p99 }, floor: { p50: floor.p50, p99: floor.p99 } };
  });
}

if (only.has('fanout')) {
  // The same million deliveries a second both ways: 1,000 readers at 1,000 lines/s, 10,000 at 100.
  const shapes = [
    { readers: 1_000, rate: 1_000, seconds: quick ? 10 : 30 },
    { readers: 10_000, rate: 100, seconds: 10 },
  ];
  const rows: { shape: (typeof shapes)[number]; results: FanoutResult[] }[] = shapes.map((shape) => ({ shape, results: [] }));
  for (let i = 0; i < repeats; i++) {
    for (const row of rows) {
      const { readers, rate, seconds } = row.shape;
      const r = await fanout(readers, 1_000, rate, seconds);
      if (!r.allReceived) throw new Error(`fan-out: not every one of ${readers} readers received all ${r.messages} messages`);
      row.results.push(r);
      if (readers === 10_000) measured.fanout10k = { allReceived: row.results.every((x) => x.allReceived), serverCpuPercent: median(row.results.map((x) => x.serverCpuPercent)) };
      progress(`fan-out ${int(readers)}: ${r.seconds.toFixed(1)} s, server CPU ${r.serverCpuPercent.toFixed(0)}%, RSS ${int(r.serverRssMb)} MB, load ${r.loadCpuPercent.toFixed(0)}%`);
    }
  }
  say();
  say('## Fan-out: one server, reader sessions with `--delay 1`, one writer');
  say();
  say(
    "The readers run in one load process through the project's own reader code (encrypted, as `run-reader`), each on its own socket; that process shares the machine's 2 cores with the server. Sqlite store. Time: from the writer's first line to the last reader's last message.",
  );
  say();
  say('| readers | writer | every reader got every message | time, s | server CPU, % of one core | server RSS at the end, MB | server peak RSS, MB | load process CPU, % |');
  say('|---|---|---|---|---|---|---|---|');
  for (const { shape, results } of rows) {
    say(
      `| ${int(shape.readers)} | ${int(shape.rate)} lines/s for ${shape.seconds} s | ${results.every((r) => r.allReceived) ? `yes (${int(shape.readers * shape.rate * shape.seconds)} deliveries per run)` : 'no'} | ${spread(results.map((r) => r.seconds), (x) => x.toFixed(1))} | ${spread(results.map((r) => r.serverCpuPercent))} | ${spread(results.map((r) => r.serverRssMb))} | ${spread(results.map((r) => r.serverPeakRssMb))} | ${spread(results.map((r) => r.loadCpuPercent))} |`,
    );
  }
}

if (only.has('sessions')) {
  const count = quick ? 2_000 : 10_000;
  const per: number[] = [];
  let last = { before: 0, after: 0 };
  for (let i = 0; i < repeats; i++) {
    const r = await idleSessionCost(count);
    per.push(r.perSessionKb);
    last = r;
    progress(`idle sessions: ${r.perSessionKb.toFixed(1)} KB each`);
  }
  say();
  say(`## Memory per idle session: ${int(count)} registered readers`);
  say();
  say('| server RSS before, MB | with the sessions, MB | per session, KB |');
  say('|---|---|---|');
  say(`| ${int(last.before)} | ${int(last.after)} | ${spread(per, (x) => x.toFixed(1))} |`);
}

if (only.has('growth')) {
  const sizes = quick ? [100_000, 1_000_000] : [100_000, 1_000_000, 5_000_000, 10_000_000];
  const idleSeconds = quick ? 10 : 45;
  const runs: Growth[] = [];
  const bare: { rssMb: number; anonMb: number }[] = [];
  for (let i = 0; i < repeats; i++) {
    bare.push(await bareNodeRss());
    runs.push(await logGrowth(sizes, idleSeconds));
    const g = runs.at(-1)!;
    progress(`log growth: ${g.points.map((p) => `${int(p.logMessages)}: ${int(p.appendLinesPerSecond)}/s ${int(p.serverRssMb)} MB`).join(', ')}; idle ${int(g.idleRssMb)} MB`);
  }
  say();
  say('## As the log grows (sqlite store)');
  say();
  say(
    `One server with the default settings; one writer appends until the log holds each size. Append rate: the last 100,000 lines before that size, through \`run-writer\`. Server RSS when the log reaches the size, and of it the server's own memory (anonymous pages: V8's heap, malloc's, SQLite's page cache; the rest is files mapped in, mostly the node binary's code, shared with every Node process and given back by the kernel when it needs room); its high-water mark (\`VmHWM\`) since it started; the writer's high-water mark over that writer's run. Target: server RSS ≤ 64 MB at every size and after idle.`,
  );
  say();
  say('| messages in the log | append, lines/s | server RSS, MB | of which its own, MB | server peak RSS, MB | writer peak RSS, MB |');
  say('|---|---|---|---|---|---|');
  say(`| a bare \`node\` process, waiting (for scale) | | ${spread(bare.map((b) => b.rssMb))} | ${spread(bare.map((b) => b.anonMb))} | | |`);
  say(`| 0 (a fresh server, 3 s after its start) | | ${spread(runs.map((r) => r.startRssMb))} | ${spread(runs.map((r) => r.startAnonMb))} | | |`);
  sizes.forEach((size, i) => {
    const at = runs.map((r) => r.points[i]!);
    say(
      `| ${int(size)} | ${spread(at.map((p) => p.appendLinesPerSecond))} | ${spread(at.map((p) => p.serverRssMb))} | ${spread(at.map((p) => p.serverAnonMb))} | ${spread(at.map((p) => p.serverPeakRssMb))} | ${spread(at.map((p) => p.writerPeakRssMb))} |`,
    );
  });
  say(`| then ${idleSeconds} s idle | | ${spread(runs.map((r) => r.idleRssMb))} | ${spread(runs.map((r) => r.idleAnonMb))} | | |`);
  const worstAt = (r: Growth): { rss: number; anon: number } => r.points.reduce((a, p) => (p.serverRssMb > a.rss ? { rss: p.serverRssMb, anon: p.serverAnonMb } : a), { rss: 0, anon: 0 });
  measured.memory = {
    worstAtSizeMb: median(runs.map((r) => worstAt(r).rss)),
    ownAtWorstMb: median(runs.map((r) => worstAt(r).anon)),
    peakMb: median(runs.map((r) => Math.max(...r.points.map((p) => p.serverPeakRssMb)))),
    idleMb: median(runs.map((r) => r.idleRssMb)),
    bareNodeMb: median(bare.map((b) => b.rssMb)),
  };
}

if (only.has('light')) {
  const young: number[] = [];
  const old: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const r = await lightLoad();
    young.push(r.youngUs);
    old.push(r.oldUs);
    progress(`light load: ${int(r.youngUs)} µs per line young, ${int(r.oldUs)} µs after 40,000 more`);
  }
  say();
  say('## Light load on a long-running server (sqlite store)');
  say();
  say('One writer at 1,000 lines/s, one line per datagram and per stored record: server CPU per line over 5,000 lines, while the log is young and again after 40,000 more lines.');
  say();
  say('| young log, µs per line | after 40,000 more, µs per line | old ÷ young |');
  say('|---|---|---|');
  say(`| ${spread(young)} | ${spread(old)} | ${ratio(old, young)} |`);
}

if (only.has('cluster')) {
  // Both sides: Redis with an append-only file, `appendfsync everysec`; a log per topic (its own keys).
  const n = quick ? 20_000 : 50_000;
  const one = (redis ??= await startRedis('everysec'));
  const cluster = await startRedisCluster(3, 'everysec');
  const rates: Record<'single' | 'cluster', number[]> = { single: [], cluster: [] };
  const cpu: Record<'single' | 'cluster', number[]> = { single: [], cluster: [] };
  try {
    for (let i = 0; i < repeats; i++) {
      const single = await topicsThroughput(n, 1, one.url(`bench-topics${i}`));
      const spread3 = await topicsThroughput(n, 3, cluster.url(`bench-topics${i}`));
      if (!single.outputMatches || !spread3.outputMatches) throw new Error('topics: a reader\'s output differs from its writer\'s input');
      rates.single.push(single.linesPerSecond);
      rates.cluster.push(spread3.linesPerSecond);
      cpu.single.push(single.relayCpuMsPerKLine);
      cpu.cluster.push(spread3.relayCpuMsPerKLine);
      progress(`topics: 1 relay on 1 Redis ${int(single.linesPerSecond)} lines/s, 3 relays on a 3-master cluster ${int(spread3.linesPerSecond)} lines/s`);
    }
  } finally {
    await cluster.stop();
  }
  say();
  say(`## Six topics at once: 1 relay server on 1 Redis, and 3 relay servers on a 3-master Redis Cluster (\`seq 1 ${int(n)}\` into each topic, a writer and a reader per topic)`);
  say();
  say(`On ${cpus().length} cores, every process of both set-ups shares them: the row says what spreading costs or gains on this machine, not what more machines give.`);
  say();
  say('| set-up | aggregate lines/s | ratio to 1 relay on 1 Redis | relay servers\' CPU ms per 1,000 lines |');
  say('|---|---|---|---|');
  say(`| 1 relay server, 1 Redis | ${spread(rates.single)} | 1.00× | ${spread(cpu.single, ms)} |`);
  say(`| 3 relay servers, 3-master Redis Cluster | ${spread(rates.cluster)} | ${ratio(rates.cluster, rates.single)} | ${spread(cpu.cluster, ms)} |`);
}

if (only.has('topics')) {
  const sizes = [10, quick ? 2_000 : 10_000];
  const n = quick ? 50_000 : 200_000;
  const dirs = sizes.map(() => mkdtempSync(join(tmpdir(), 'relay-bench-topics-')));
  const results: Record<number, ScaleResult[]> = Object.fromEntries(sizes.map((k) => [k, []]));
  try {
    for (const [i, k] of sizes.entries()) {
      progress(`topics: seeding ${int(k)} topics`);
      await seedTopics(dirs[i]!, k);
    }
    for (let r = 0; r < repeats; r++) {
      for (const [i, k] of sizes.entries()) {
        const res = await topicsScale(dirs[i]!, k, n);
        if (res.topicsListed !== k + 1 + (r > 0 ? 1 : 0)) throw new Error(`listed ${res.topicsListed} topics of ${k}`);
        results[k]!.push(res);
        progress(`topics: ${int(k)} topics, listed in ${res.listSeconds.toFixed(2)} s, ${int(res.linesPerSecond)} lines/s, ${int(res.rssMb)} MB, ${res.files} files`);
      }
    }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  const col = (k: number, f: (x: ScaleResult) => number): number[] => results[k]!.map(f);
  const [few, many] = sizes as [number, number];
  say();
  say(`## A server holding ${int(many)} topics, next to one holding ${int(few)} (sqlite; \`seq 1 ${int(n)}\` through one more topic)`);
  say();
  say('Each server first lists every topic (`run-reader --topics`, which opens each topic\'s log), then carries one stream on a topic of its own. Memory is the server\'s peak; files, those it holds open at the end.');
  say();
  say('| topics | listing, s | stream, lines/s | lines/s ratio | peak memory, MB | files open |');
  say('|---|---|---|---|---|---|');
  for (const k of sizes) {
    say(`| ${int(k)} | ${spread(col(k, (x) => x.listSeconds), ms)} | ${spread(col(k, (x) => x.linesPerSecond))} | ${ratio(col(k, (x) => x.linesPerSecond), col(few, (x) => x.linesPerSecond))} | ${spread(col(k, (x) => x.rssMb))} | ${spread(col(k, (x) => x.files))} |`);
  }
}

if (only.has('appends')) {
  const groups = [1, 150, 2000];
  const rates: Record<number, number[]> = Object.fromEntries(groups.map((g) => [g, []]));
  const synced: Record<number, number[]> = Object.fromEntries(groups.map((g) => [g, []]));
  for (let i = 0; i < repeats; i++) {
    for (const g of groups) {
      const total = g === 1 ? 20_000 : 200_000;
      rates[g]!.push(await appendRate(g, total));
      synced[g]!.push(await appendRate(g, g === 1 ? 2_000 : total, true));
    }
  }
  say();
  say('## sqlite store: appends by messages per transaction, and what `--fsync` costs');
  say();
  say('| messages per transaction | messages/s | ratio to 1 | with `--fsync` | fsync ratio |');
  say('|---|---|---|---|---|');
  for (const g of groups) say(`| ${int(g)} | ${spread(rates[g]!)} | ${ratio(rates[g]!, rates[1]!)} | ${spread(synced[g]!)} | ${ratio(synced[g]!, rates[g]!)} |`);
}

if (only.has('lossy')) {
  const lossy = { loss: 0.2, duplicate: 0.05, reorder: 0.1, reorderMs: 5 };
  const clean = { loss: 0, duplicate: 0, reorder: 0, reorderMs: 0 };
  const n = 100_000;
  const paths: Record<string, number[]> = { clean: [], lossy: [] };
  for (let i = 0; i < repeats; i++) {
    for (const [name, faults] of [['clean', clean], ['lossy', lossy]] as const) {
      const res = await relayThroughput(n, ['--store', 'sqlite'], faults);
      if (!res.outputMatches) throw new Error(`${name} path: output differs from input`);
      paths[name]!.push(res.linesPerSecond);
      progress(`path ${name}: ${int(res.linesPerSecond)} lines/s`);
    }
  }
  say();
  say(`## Goodput through a UDP proxy: clean, and 20% loss, 5% duplication, 10% reordering both ways (\`seq 1 ${int(n)}\`, sqlite)`);
  say();
  say('| path | lines/s | fraction of clean |');
  say('|---|---|---|');
  for (const name of ['clean', 'lossy']) say(`| ${name} | ${spread(paths[name]!)} | ${ratio(paths[name]!, paths['clean']!)} |`);
}

const targets = targetsTable(measured);
if (targets.length > 0) {
  say();
  say('## Targets: what this run measured against them');
  say();
  say('Each figure is the median of this run\'s own measurements in the sections above; a ratio, the median of the ratios taken run by run.');
  say();
  for (const line of targets) say(line);
}

const stealShare = cpuSteal(stealAtStart);
const steal = stealShare === undefined ? undefined : `${(stealShare * 100).toFixed(1)}%`;
if (steal !== undefined && !opts.only) {
  say();
  say(`CPU steal during the run (time the host ran something else on these virtual cores): ${steal} of all CPU time; where it is high, figures are noisy, ratios less so.`);
}

await broker?.stop();
await redis?.stop();
const file = new URL('./RESULTS.md', import.meta.url);
const report = `${out.join('\n')}\n`;
if (opts.only && existsSync(file)) {
  // Some sections only: they replace their own in the file, the others stay as they were measured.
  const note = `Measured on its own (\`--only ${opts.only}\`, ${repeats} runs), ${new Date().toISOString().slice(0, 10)}${steal === undefined ? '' : `, CPU steal ${steal}`}.`;
  writeFileSync(file, mergeResults(readFileSync(file, 'utf8'), report, note));
} else {
  writeFileSync(file, report);
}
console.error('\nwritten to bench/RESULTS.md');
