/**
 * bench/RESULTS.md by sections (`## ` headings). A whole run replaces the file; a run of some sections
 * (`--only`) replaces those sections alone, each marked with when it was measured, and keeps the others.
 */

/** A section's key: its heading up to the first colon ("## Throughput: …" is "Throughput"). */
const keyOf = (section: string): string => /^## ([^:\n]*)/.exec(section)?.[1]?.trim() ?? '';

function split(text: string): { head: string; sections: string[] } {
  const parts = text.split(/^(?=## )/m);
  const head = parts[0]!.startsWith('## ') ? '' : parts.shift()!;
  return { head, sections: parts };
}

/** `fresh` (this run's report) merged into `old` (the file): sections of the same key are replaced. */
export function mergeResults(old: string, fresh: string, note: string): string {
  const before = split(old);
  const now = split(fresh);
  const replaced = new Map(now.sections.map((s) => [keyOf(s), `${s.trimEnd()}\n\n${note}\n\n`]));
  const sections = before.sections.map((s) => replaced.get(keyOf(s)) ?? s);
  for (const [key, s] of replaced) if (!before.sections.some((b) => keyOf(b) === key)) sections.push(s);
  return `${before.head}${sections.join('')}`.trimEnd() + '\n';
}
