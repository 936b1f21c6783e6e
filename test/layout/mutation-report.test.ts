import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

// The mutation report (scripts/mutation-report.mjs) made from runs, as README says: each file from the
// latest run that covered it, the files changed since their run named, and those no run covered listed.

const ROOT = join(import.meta.dirname, '..', '..');
const sha = (path: string): string => createHash('sha256').update(readFileSync(join(ROOT, path))).digest('hex');
const mutant = (line: number, status: string) => ({ line, column: 1, endLine: line, endColumn: 5, mutatorName: 'ConditionalExpression', replacement: 'true', status, original: `code ${line}` });

test('the report takes each file from its latest run, names files changed since, and lists those never run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-mutation-'));
  try {
    const run = (name: string, files: Record<string, unknown>): string => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify({ files }));
      return path;
    };
    const first = run('1.json', {
      'src/core/timers.ts': { sha256: sha('src/core/timers.ts'), mutants: [mutant(1, 'Survived'), mutant(2, 'Survived')] },
      'src/core/liveness.ts': { sha256: 'not the code as it is', mutants: [mutant(1, 'Killed')] },
      'src/core/gone.ts': { sha256: 'a file since removed', mutants: [mutant(1, 'Survived')] },
    });
    const later = run('2.json', { 'src/core/timers.ts': { sha256: sha('src/core/timers.ts'), mutants: [mutant(2, 'Killed')] } });
    const out = join(dir, 'RESULTS.md');
    execFileSync(process.execPath, ['scripts/mutation-report.mjs', first, later], { cwd: ROOT, env: { ...process.env, MUTATION_REPORT_OUT: out }, stdio: 'pipe' });
    const report = readFileSync(out, 'utf8');
    assert.match(report, /\| `src\/core` \| 2 \| 1 \| 0 \| 66\.7% \|/, 'line 2 killed by the later run; line 1 still survives');
    assert.match(report, /Changed since their last run[^]*- `src\/core\/liveness\.ts`/);
    const notRun = /Not run yet[^\n]*\n\n([^]*?)\n\n/.exec(report)?.[1] ?? '';
    assert.match(notRun, /- `src\/core\/server\/server-core\.ts`/);
    assert.match(notRun, /- `src\/protocol\/codec\.ts`/);
    assert.doesNotMatch(notRun, /timers\.ts|liveness\.ts/, 'covered by a run');
    assert.doesNotMatch(report, /gone\.ts/, 'a file removed since its run is left out');
    assert.doesNotMatch(notRun, /packets\.ts/, 'types only: nothing to mutate');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
