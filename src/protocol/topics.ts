/**
 * Topic names and subscription patterns, in the syntax of NATS subjects: dot-separated segments
 * (`logs.web1`, `chat.ops`); in a pattern `*` stands for exactly one segment and `>`, last only, for one
 * or more (`logs.*` matches `logs.web1`, not `logs.web1.errors`; `logs.>` matches both, not `logs`).
 */

/** A topic's bytes, at most: it travels in every HELLO and names its keys in the store. */
export const TOPIC_BYTES_MAX = 64;
export const TOPIC_SEGMENTS_MAX = 8;
/** The topic of a client given none: what every client of an older version wrote to and read. */
export const DEFAULT_TOPIC = 'main';

const SEGMENT = /^[A-Za-z0-9_-]+$/;

export const TOPIC_RULE =
  `segments of letters, digits, '_' and '-', joined by '.' (e.g. logs.web1): at most ${TOPIC_SEGMENTS_MAX} segments ` +
  `and ${TOPIC_BYTES_MAX} characters`;
export const PATTERN_RULE = `a topic in which a segment may be '*' (any one segment) and the last may be '>' (one or more)`;

const segmentsOf = (s: string): string[] | undefined => {
  if (s.length === 0 || s.length > TOPIC_BYTES_MAX) return undefined;
  const segments = s.split('.');
  return segments.length <= TOPIC_SEGMENTS_MAX ? segments : undefined;
};

export function isValidTopic(topic: string): boolean {
  return segmentsOf(topic)?.every((seg) => SEGMENT.test(seg)) ?? false;
}

export function isValidPattern(pattern: string): boolean {
  const segments = segmentsOf(pattern);
  if (!segments) return false;
  return segments.every((seg, i) => SEGMENT.test(seg) || seg === '*' || (seg === '>' && i === segments.length - 1));
}

export const isPattern = (pattern: string): boolean => pattern.split('.').some((seg) => seg === '*' || seg === '>');

/** Whether `topic` is one of those `pattern` names (a pattern without wildcards names only itself). */
export function topicMatches(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length || (p[i] !== '*' && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

/** Whether any of `patterns` names `topic`. */
export const anyMatches = (patterns: readonly string[], topic: string): boolean => patterns.some((p) => topicMatches(p, topic));

/**
 * A key (a reader's or a group's name) within its topic, where one map holds several topics' keys:
 * '\n' is in no name. The store's edge splits it again (store/topic-stores.ts).
 */
export const inTopic = (topic: string, key: string): string => `${topic}\n${key}`;
export function splitInTopic(scoped: string): { topic: string; key: string } {
  const at = scoped.indexOf('\n');
  return at < 0 ? { topic: DEFAULT_TOPIC, key: scoped } : { topic: scoped.slice(0, at), key: scoped.slice(at + 1) };
}
