import { topicMatches } from '../protocol/topics.js';
import type { RetentionLimits } from './store.js';

/** A retention of its own for the topics a pattern names (`run-server --retain`). */
export interface RetentionRule {
  pattern: string;
  limits: RetentionLimits;
}

/** The retention of `topic`: that of the first rule whose pattern names it, else the server's. */
export function retentionOf(topic: string, server: RetentionLimits, rules: readonly RetentionRule[] = []): RetentionLimits {
  return rules.find((r) => topicMatches(r.pattern, topic))?.limits ?? server;
}
