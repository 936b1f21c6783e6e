// Writes reports/mutation/RESULTS.md from StrykerJS's JSON report: the score per folder, and every
// mutant that survived, so that each can be killed with a test or explained as equivalent.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const REPORT = 'reports/mutation/mutation.json';
const OUT = 'reports/mutation/RESULTS.md';
const report = JSON.parse(readFileSync(REPORT, 'utf8'));

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const folders = new Map();
const survivors = [];
const count = (key, status) => {
  const f = folders.get(key) ?? { detected: 0, undetected: 0 };
  if (DETECTED.has(status)) f.detected++;
  if (UNDETECTED.has(status)) f.undetected++;
  folders.set(key, f);
};
for (const [path, file] of Object.entries(report.files)) {
  for (const m of file.mutants) {
    for (const key of new Set([dirname(path), dirname(path).split('/').slice(0, 2).join('/'), 'all'])) count(key, m.status);
    if (UNDETECTED.has(m.status)) survivors.push({ path, line: m.location.start.line, mutator: m.mutatorName, status: m.status, replacement: m.replacement ?? '' });
  }
}
const score = (f) => (f.detected + f.undetected === 0 ? 100 : (100 * f.detected) / (f.detected + f.undetected));
const rows = [...folders].sort(([a], [b]) => (a === 'all' ? 1 : b === 'all' ? -1 : a.localeCompare(b)));
const lines = [
  '# Mutation testing',
  '',
  'Made by `npm run mutate` (StrykerJS over `src/protocol` and `src/core`, with the tests of `test/protocol`,',
  '`test/core`, `test/cli` and the line splitter; see `stryker.config.json`). A mutant is a small plausible',
  'bug put into the code; it is killed when some test fails with it in. Score: killed (or timed out) out of',
  'all that ran, a mutant no test reaches counting as survived. String literals (messages) are not mutated:',
  'their wording is checked end to end.',
  '',
  `Run of ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| folder | killed | survived | score |',
  '|---|---:|---:|---:|',
  ...rows.map(([k, f]) => `| ${k === 'all' ? '**all**' : `\`${k}\``} | ${f.detected} | ${f.undetected} | ${score(f).toFixed(1)}% |`),
  '',
  `## Survivors (${survivors.length})`,
  '',
  'Each is a missing test or an equivalent mutant (a change no behaviour can show).',
  '',
  '| where | mutation | status |',
  '|---|---|---|',
  ...survivors
    .sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line)
    .map((s) => `| \`${s.path}:${s.line}\` | ${s.mutator}: \`${s.replacement.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 80)}\` | ${s.status} |`),
  '',
];
writeFileSync(OUT, lines.join('\n'));
console.log(rows.map(([k, f]) => `${k}: ${score(f).toFixed(1)}%`).join('\n'));
