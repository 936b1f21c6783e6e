import { isValidPattern, PATTERN_RULE } from '../protocol/topics.js';
import type { RetentionLimits } from '../store/store.js';
import type { RetentionRule } from '../store/topic-retention.js';
import { usage } from './command.js';

const FORM = "expected PATTERN:LIMIT[,LIMIT…] with LIMIT messages=N, bytes=N or seconds=N (e.g. 'logs.>:seconds=604800')";

/**
 * `run-server --retain 'logs.>:messages=1000000,seconds=604800'`: a retention of their own for the
 * topics the pattern names; a limit not given is the server's (`--retain-messages` and the others).
 */
export function parseRetentionRule(given: string, server: RetentionLimits): RetentionRule {
  const at = given.lastIndexOf(':');
  const pattern = given.slice(0, Math.max(at, 0));
  if (at < 0) throw usage(`invalid --retain '${given}': ${FORM}`);
  if (!isValidPattern(pattern)) throw usage(`invalid --retain '${given}': '${pattern}' is not ${PATTERN_RULE}`);
  const limits = { ...server };
  for (const part of given.slice(at + 1).split(',')) {
    const m = /^(messages|bytes|seconds)=(\d+)$/.exec(part.trim());
    if (!m || !Number.isSafeInteger(Number(m[2]))) throw usage(`invalid --retain '${given}': '${part}': ${FORM}`);
    const n = Number(m[2]);
    if (m[1] === 'messages') limits.messages = n;
    else if (m[1] === 'bytes') limits.bytes = n;
    else limits.ageMs = n * 1000;
  }
  return { pattern, limits };
}
