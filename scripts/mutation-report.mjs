// Writes reports/mutation/RESULTS.md from StrykerJS's JSON reports: the score per folder, the mutants
// explained as equivalent (reports/mutation/equivalents.md), and every other mutant that survived, so that
// each can be killed with a test or explained.
//
// Usage: node scripts/mutation-report.mjs [REPORT.json ...]. With several reports (runs over parts of
// src/, e.g. `stryker run --mutate 'src/protocol/**/*.ts'`), each mutant's result comes from the last
// report that ran it.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import ts from 'typescript';
import { compactRun } from './mutation-run.mjs';

const reports = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['reports/mutation/mutation.json'];
// MUTATION_REPORT_OUT: somewhere else (the report's own test).
const OUT = process.env.MUTATION_REPORT_OUT ?? 'reports/mutation/RESULTS.md';
const EQUIVALENTS = 'reports/mutation/equivalents.md';

// A later run over the same source (a range of lines, e.g. `--mutate 'src/x.ts:100-300'`) replaces only
// the mutants it ran; a run over a changed source replaces the file's. Runs are read in the committed
// compact form (scripts/mutation-run.mjs), or as StrykerJS wrote them.
const files = new Map();
const mutantKey = (m) => `${m.line}:${m.column}-${m.endLine}:${m.endColumn} ${m.mutatorName} ${m.replacement}`;
for (const path of reports) {
  const run = JSON.parse(readFileSync(path, 'utf8'));
  for (const [file, data] of Object.entries(run.schemaVersion ? compactRun(run).files : run.files)) {
    const before = files.get(file);
    if (before?.sha256 !== data.sha256) {
      files.set(file, data);
      continue;
    }
    const merged = new Map(before.mutants.map((m) => [mutantKey(m), m]));
    for (const m of data.mutants) merged.set(mutantKey(m), m);
    files.set(file, { ...data, mutants: [...merged.values()] });
  }
}
// A file removed since its runs (its code moved elsewhere) has nothing left to report.
for (const path of [...files.keys()]) if (!existsSync(path)) files.delete(path);
const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
// Files whose code changed after their last run: their figures are of the older code.
const outdated = [...files].filter(([path, f]) => sha256(path) !== f.sha256).map(([path]) => path);
// Files the mutation run covers (stryker.config.json's `mutate`: every .ts under these folders) that no run has yet.
const sourcesUnder = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourcesUnder(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : []));
// A file of types and re-exports only has nothing to mutate: no run lists it.
const typesOnly = (path) =>
  ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest).statements.every(
    (st) => ts.isImportDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isExportDeclaration(st),
  );
const neverRun = ['src/protocol', 'src/core'].flatMap((d) => sourcesUnder(d)).filter((path) => !files.has(path) && !typesOnly(path)).sort();

const norm = (s) => s.replace(/\s+/g, ' ').trim();
const equivalents = readFileSync(EQUIVALENTS, 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('| `src/'))
  .map((l) => {
    const cells = l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim().replace(/\\\|/g, '|'));
    const code = (c) => norm(c.replace(/^`|`$/g, ''));
    return { file: code(cells[0]), original: code(cells[1]), mutator: cells[2], replacement: code(cells[3]), why: cells[4], used: 0 };
  });
const equivalentOf = (file, m) =>
  equivalents.find((e) => e.file === file && e.mutator === m.mutatorName && e.replacement === norm(m.replacement) && e.original === norm(m.original));

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const folders = new Map();
const survivors = [];
const explained = [];
const count = (key, kind) => {
  const f = folders.get(key) ?? { detected: 0, undetected: 0, equivalent: 0 };
  f[kind]++;
  folders.set(key, f);
};
for (const [path, file] of files) {
  for (const m of file.mutants) {
    let kind;
    if (DETECTED.has(m.status)) kind = 'detected';
    else if (UNDETECTED.has(m.status)) {
      const eq = equivalentOf(path, m);
      if (eq) {
        eq.used++;
        kind = 'equivalent';
        explained.push({ path, line: m.line, mutator: m.mutatorName, replacement: m.replacement, why: eq.why });
      } else {
        kind = 'undetected';
        survivors.push({ path, line: m.line, mutator: m.mutatorName, status: m.status, original: m.original, replacement: m.replacement });
      }
    } else continue;
    for (const key of new Set([dirname(path), dirname(path).split('/').slice(0, 2).join('/'), 'all'])) count(key, kind);
  }
}
// Only of the files the runs covered: of the others nothing is known.
const stale = equivalents.filter((e) => e.used === 0 && files.has(e.file));
const score = (f) => (f.detected + f.undetected === 0 ? 100 : (100 * f.detected) / (f.detected + f.undetected));
const rows = [...folders].sort(([a], [b]) => (a === 'all' ? 1 : b === 'all' ? -1 : a.localeCompare(b)));
const cell = (s) => `\`${norm(s).replace(/\|/g, '\\|').slice(0, 80)}\``;
const lines = [
  '# Mutation testing',
  '',
  'Made by `npm run mutate` (StrykerJS over `src/protocol` and `src/core`, with the tests of `test/protocol`,',
  '`test/core`, `test/cli`, the line splitter and a thinned simulation; see `stryker.config.json`). A mutant',
  'is a small plausible bug put into the code; it is killed when some test fails with it in. Score: killed',
  '(or timed out) out of all that ran, a mutant no test reaches counting as survived, the equivalent ones',
  '(reports/mutation/equivalents.md, and lines marked `Stryker disable` in the code, each with its reason)',
  'left out. String literals (messages) are not mutated: their wording is checked end to end.',
  '',
  `Made on ${new Date().toISOString().slice(0, 10)} from ${reports.length === 1 ? 'one run' : `${reports.length} runs, each over a part of src/`} (kept in`,
  '`reports/mutation/runs/`; `node scripts/mutation-report.mjs reports/mutation/runs/*.json` makes this page again).',
  '',
  '| folder | killed | survived | equivalent | score |',
  '|---|---:|---:|---:|---:|',
  ...rows.map(([k, f]) => `| ${k === 'all' ? '**all**' : `\`${k}\``} | ${f.detected} | ${f.undetected} | ${f.equivalent} | ${score(f).toFixed(1)}% |`),
  '',
  ...(outdated.length > 0 ? ['Changed since their last run (their figures are of the older code; run them again):', '', ...outdated.map((p) => `- \`${p}\``), ''] : []),
  ...(neverRun.length > 0 ? ['Not run yet (new files: not in the figures above):', '', ...neverRun.map((p) => `- \`${p}\``), ''] : []),
  ...(stale.length > 0 ? ['Listed as equivalent but not found in this run (the code moved on, or a test kills it now; check the list):', '', ...stale.map((e) => `- \`${e.file}\` ${cell(e.original)} ${e.mutator} ${cell(e.replacement)}`), ''] : []),
  `## Equivalent (${explained.length})`,
  '',
  '| where | mutation | why |',
  '|---|---|---|',
  ...explained.sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line).map((s) => `| \`${s.path}:${s.line}\` | ${s.mutator}: ${cell(s.replacement)} | ${s.why} |`),
  '',
  `## Survivors (${survivors.length})`,
  '',
  'Each is a missing test, or an equivalent mutant not yet explained.',
  '',
  '| where | code | mutation | status |',
  '|---|---|---|---|',
  ...survivors.sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line).map((s) => `| \`${s.path}:${s.line}\` | ${cell(s.original)} | ${s.mutator}: ${cell(s.replacement)} | ${s.status} |`),
  '',
];
writeFileSync(OUT, lines.join('\n'));
console.log(rows.map(([k, f]) => `${k}: ${score(f).toFixed(1)}%`).join('\n'));
