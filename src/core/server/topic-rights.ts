import { anyMatches } from '../../protocol/topics.js';

/**
 * What a user of authenticated mode may do, topic by topic (the users file's `read` and `write`): patterns
 * of the topics it may read (and be a group member in) and write to (and chat in). Absent: every topic,
 * as for a user the file gives only a verifier.
 */
export interface TopicRights {
  read?: readonly string[];
  write?: readonly string[];
}

export type TopicAccess = 'read' | 'write';

export function mayUse(rights: TopicRights | undefined, access: TopicAccess, topic: string): boolean {
  const patterns = rights?.[access];
  return patterns === undefined || anyMatches(patterns, topic);
}

/** The patterns of the topics a user is shown (those it may read or write); undefined: all of them. */
export function visibleTopics(rights: TopicRights | undefined): string[] | undefined {
  if (rights?.read === undefined || rights.write === undefined) return undefined;
  return [...rights.read, ...rights.write];
}
