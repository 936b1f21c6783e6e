// The compact form of a StrykerJS report that reports/mutation/runs/ keeps (committed, so that the report
// can be made again on any checkout): per file, a hash of the code that was mutated and, per mutant, where,
// what it replaced, with what, and how it ended. The source itself is in git.
import { createHash } from 'node:crypto';

/** @param {{ files: Record<string, { source: string, mutants: any[] }> }} report */
export function compactRun(report) {
  const files = {};
  for (const [path, { source, mutants }] of Object.entries(report.files)) {
    const lines = source.split('\n');
    const original = ({ start, end }) =>
      start.line === end.line
        ? lines[start.line - 1].slice(start.column - 1, end.column - 1)
        : [lines[start.line - 1].slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1].slice(0, end.column - 1)].join('\n');
    files[path] = {
      sha256: createHash('sha256').update(source).digest('hex'),
      mutants: mutants.map((m) => ({
        line: m.location.start.line,
        column: m.location.start.column,
        endLine: m.location.end.line,
        endColumn: m.location.end.column,
        mutatorName: m.mutatorName,
        replacement: m.replacement ?? '',
        status: m.status,
        original: original(m.location),
      })),
    };
  }
  return { files };
}

/** One mutant per line: runs stay readable in a diff. */
export function formatRun(run) {
  const parts = Object.entries(run.files).map(
    ([path, f]) =>
      `    ${JSON.stringify(path)}: {\n      "sha256": ${JSON.stringify(f.sha256)},\n      "mutants": [\n${f.mutants.map((m) => `        ${JSON.stringify(m)}`).join(',\n')}\n      ]\n    }`,
  );
  return `{\n  "files": {\n${parts.join(',\n')}\n  }\n}\n`;
}
