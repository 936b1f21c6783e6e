/**
 * `node --import tsx bench/ab.ts DIR_A DIR_B [--lines 300000] [--rounds 3] [--latency 2000]`
 *
 * Two builds of the relay side by side (two checkouts, each with `npm ci && npm run build` done): the
 * throughput of `seq 1 N` through writer, server (sqlite) and reader, and the latency of paced lines, the
 * two alternating A, B, B, A... so that the machine's noise hits them alike. Prints each round and the
 * ratios B/A of the medians: for checking that a change costs no speed.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { lines: { type: 'string', default: '300000' }, rounds: { type: 'string', default: '3' }, latency: { type: 'string', default: '2000' } },
});
if (positionals.length !== 2) throw new Error('usage: bench/ab.ts DIR_A DIR_B [--lines N] [--rounds R] [--latency N]');
const lines = Number(opts.lines);
const rounds = Number(opts.rounds);
const latencyCount = Number(opts.latency);

interface Build {
  name: string;
  relayThroughput: (n: number, storeArgs: string[]) => Promise<{ linesPerSecond: number; outputMatches: boolean }>;
  relayLatency: (count: number, warmup: number) => Promise<number[]>;
  throughput: number[];
  p50: number[];
  p99: number[];
}

const load = async (dir: string): Promise<Build> => {
  const url = (f: string): string => pathToFileURL(resolve(dir, 'bench', f)).href;
  const relay = (await import(url('relay.ts'))) as Pick<Build, 'relayThroughput'>;
  const latency = (await import(url('latency.ts'))) as Pick<Build, 'relayLatency'>;
  return { name: dir, relayThroughput: relay.relayThroughput, relayLatency: latency.relayLatency, throughput: [], p50: [], p99: [] };
};

const at = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const median = (xs: number[]): number => at(xs, 50);

const builds = [await load(positionals[0]!), await load(positionals[1]!)];
for (let round = 0; round < rounds; round++) {
  // A B, then B A: neither always goes first.
  for (const b of round % 2 === 0 ? builds : [...builds].reverse()) {
    const t = await b.relayThroughput(lines, ['--store', 'sqlite']);
    if (!t.outputMatches) throw new Error(`${b.name}: the reader's output differs from the input`);
    const l = await b.relayLatency(latencyCount, 200);
    b.throughput.push(t.linesPerSecond);
    b.p50.push(at(l, 50));
    b.p99.push(at(l, 99));
    console.log(`round ${round + 1} ${b.name}: ${Math.round(t.linesPerSecond)} lines/s, latency p50 ${at(l, 50).toFixed(2)} ms, p99 ${at(l, 99).toFixed(2)} ms`);
  }
}
const [a, b] = builds as [Build, Build];
const ratio = (f: (x: Build) => number[]): string => (median(f(b)) / median(f(a))).toFixed(2);
console.log(`B/A, medians of ${rounds}: throughput ${ratio((x) => x.throughput)}x, latency p50 ${ratio((x) => x.p50)}x, p99 ${ratio((x) => x.p99)}x`);
