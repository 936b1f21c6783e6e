/**
 * `npm run bench [-- N [repeats]]`. Every comparison is measured side by side in one run, the
 * contenders alternating, so that the machine's noise hits them alike; ratios matter, not absolutes.
 */
import { arch, cpus, platform } from 'node:os';
import { median, relayThroughput } from './relay.js';
import { appendRate } from './store-append.js';

const n = Number(process.argv[2] ?? 300_000);
const repeats = Number(process.argv[3] ?? 3);
const fmt = (xs: number[]): string => `${Math.round(median(xs)).toLocaleString('en')} (${Math.round(Math.min(...xs)).toLocaleString('en')}–${Math.round(Math.max(...xs)).toLocaleString('en')})`;

console.log(`# udp-relay bench\n\n${new Date().toISOString()} · ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} · ${platform()} ${arch()} · Node ${process.version}\n`);

// End to end: seq 1 N through writer → server → reader.
const stores: Record<string, string[]> = { sqlite: ['--store', 'sqlite'], memory: ['--store', 'memory'] };
const e2e: Record<string, number[]> = { sqlite: [], memory: [] };
for (let r = 0; r < repeats; r++) {
  for (const [name, args] of Object.entries(stores)) {
    const res = await relayThroughput(n, args);
    if (!res.outputMatches) throw new Error(`${name}: output differs from input`);
    e2e[name]!.push(res.linesPerSecond);
    console.error(`e2e ${name} run ${r + 1}: ${Math.round(res.linesPerSecond)} lines/s`);
  }
}
console.log(`## End to end: \`seq 1 ${n}\` through writer → server → reader, output checked equal\n`);
console.log('| store | lines/s, median (min–max) | ratio to memory |\n|---|---|---|');
for (const name of Object.keys(stores)) {
  console.log(`| ${name} | ${fmt(e2e[name]!)} | ${(median(e2e[name]!) / median(e2e['memory']!)).toFixed(2)} |`);
}

// What grouping does to the sqlite store's append rate, and what --fsync costs.
const groups = [1, 150, 2000];
const rates: Record<number, number[]> = Object.fromEntries(groups.map((g) => [g, []]));
const synced: Record<number, number[]> = Object.fromEntries(groups.map((g) => [g, []]));
for (let r = 0; r < repeats; r++) {
  for (const g of groups) {
    const total = g === 1 ? 20_000 : 200_000;
    rates[g]!.push(await appendRate(g, total));
    synced[g]!.push(await appendRate(g, g === 1 ? 2_000 : total, true));
  }
}
console.log('\n## sqlite appends by messages per transaction\n');
console.log('| messages per transaction | messages/s, median (min–max) | ratio to 1 | with --fsync | fsync ratio |\n|---|---|---|---|---|');
for (const g of groups) {
  console.log(
    `| ${g} | ${fmt(rates[g]!)} | ${(median(rates[g]!) / median(rates[1]!)).toFixed(1)} | ${fmt(synced[g]!)} | ${(median(synced[g]!) / median(rates[g]!)).toFixed(2)} |`,
  );
}

// Goodput through a lossy path, next to the clean path (both through the same proxy code).
const lossy = { loss: 0.2, duplicate: 0.05, reorder: 0.1, reorderMs: 5 };
const clean = { loss: 0, duplicate: 0, reorder: 0, reorderMs: 0 };
const paths: Record<string, number[]> = { clean: [], lossy: [] };
const nLossy = Math.min(n, 100_000);
for (let r = 0; r < repeats; r++) {
  for (const [name, faults] of [['clean', clean], ['lossy', lossy]] as const) {
    const res = await relayThroughput(nLossy, ['--store', 'sqlite'], faults);
    if (!res.outputMatches) throw new Error(`${name} path: output differs from input`);
    paths[name]!.push(res.linesPerSecond);
    console.error(`path ${name} run ${r + 1}: ${Math.round(res.linesPerSecond)} lines/s`);
  }
}
console.log(`\n## Goodput through a UDP proxy: clean, and 20% loss, 5% duplication, 10% reordering both ways (\`seq 1 ${nLossy}\`, sqlite)\n`);
console.log('| path | lines/s, median (min–max) | fraction of clean |\n|---|---|---|');
for (const name of ['clean', 'lossy']) {
  console.log(`| ${name} | ${fmt(paths[name]!)} | ${(median(paths[name]!) / median(paths['clean']!)).toFixed(2)} |`);
}
