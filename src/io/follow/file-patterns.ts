import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The files `--follow` names: paths, or patterns with `*` and `?` in the file name (not in the
 * directories), as a shell would expand them but looked at again on every poll, so files that appear later
 * are found.
 */
export const hasWildcard = (pattern: string): boolean => /[*?]/.test(basename(pattern));

/** A wildcard in a directory part is not supported: the reason, for one line on stderr. */
export function patternProblem(pattern: string): string | undefined {
  if (/[*?]/.test(dirname(pattern))) return `--follow ${pattern}: wildcards go in the file name only, not in its directories`;
  return undefined;
}

function matcher(name: string): RegExp {
  const body = name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** The paths the patterns name now, each once, in order (a pattern's matches sorted by name). */
export async function expandPatterns(patterns: readonly string[], maxEntries: number): Promise<string[]> {
  const out = new Set<string>();
  for (const p of patterns) {
    if (!hasWildcard(p)) {
      out.add(p);
      continue;
    }
    for (const name of (await listDir(dirname(p), maxEntries)).filter((n) => matcher(basename(p)).test(n)).sort()) {
      out.add(join(dirname(p), name));
    }
  }
  return [...out];
}

/** A directory's entries (at most `maxEntries`), or none when it cannot be read. */
export async function listDir(dir: string, maxEntries: number): Promise<string[]> {
  try {
    return (await readdir(dir)).slice(0, maxEntries);
  } catch {
    return [];
  }
}
