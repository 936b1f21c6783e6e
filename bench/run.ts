/**
 * `npm run bench [-- N [repeats]]`: end-to-end throughput of `seq 1 N` through each store,
 * measured side by side in one run (the stores alternate, so machine noise hits both alike).
 */
import { median, relayThroughput } from './relay.js';

const n = Number(process.argv[2] ?? 200_000);
const repeats = Number(process.argv[3] ?? 3);
const stores: Record<string, string[]> = { memory: ['--store', 'memory'] };

const results: Record<string, number[]> = Object.fromEntries(Object.keys(stores).map((k) => [k, []]));
for (let r = 0; r < repeats; r++) {
  for (const [name, args] of Object.entries(stores)) {
    const res = await relayThroughput(n, args);
    if (!res.outputMatches) throw new Error(`${name}: output differs from input`);
    results[name]!.push(res.linesPerSecond);
    console.error(`${name} run ${r + 1}: ${Math.round(res.linesPerSecond)} lines/s (${res.seconds.toFixed(2)} s)`);
  }
}
console.log(`\n| store | lines | median lines/s | min–max |\n|---|---|---|---|`);
for (const [name, xs] of Object.entries(results)) {
  console.log(`| ${name} | ${n} | ${Math.round(median(xs))} | ${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} |`);
}
