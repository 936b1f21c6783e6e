import { Role } from '../../protocol/constants.js';
import { DEFAULT_TOPIC } from '../../protocol/topics.js';
import type { LogEnds } from './log-end.js';
import type { QueueGroup } from './queue-group.js';
import type { ReaderSession, SessionTable } from './sessions.js';

/** How many readers, groups and writers a snapshot names at most: the busiest or furthest behind. */
export const SNAPSHOT_TOP = 10;

export interface ReaderLag {
  name: string;
  /** The topic it reads, when not the default one. */
  topic?: string;
  /** Its queue group, if it reads as a member of one (then position and lag are the group's). */
  group?: string;
  position: number;
  /** Messages of the log after its position. */
  lag: number;
}

export interface GroupLag {
  name: string;
  topic?: string;
  members: number;
  position: number;
  lag: number;
}

export interface WriterCount {
  name: string;
  topic?: string;
  /** Messages stored from this writer's current session. */
  stored: number;
}

/** What the server holds now, for monitoring: counts, and the few sessions worth naming. */
export interface ServerSnapshot {
  sessions: { writers: number; readers: number; observers: number; total: number };
  /** The id the next message of the default topic gets, as this server knows it. */
  logNext: number;
  /** Lone readers and group members, furthest behind first. */
  readers: ReaderLag[];
  groups: GroupLag[];
  /** Writers that stored most in their current session first. */
  writers: WriterCount[];
}

export function serverSnapshot(
  sessions: SessionTable,
  groups: ReadonlyMap<string, QueueGroup<ReaderSession>>,
  logs: LogEnds,
  top = SNAPSHOT_TOP,
): ServerSnapshot {
  const logNext = logs.main.next;
  const topicOf = (topic: string) => (topic === DEFAULT_TOPIC ? {} : { topic });
  const counts = { writers: 0, readers: 0, observers: 0, total: sessions.size };
  const readers: ReaderLag[] = [];
  const writers: WriterCount[] = [];
  for (const s of sessions.byId.values()) {
    if (!s.ready) continue;
    if (s.role === Role.Writer) {
      counts.writers++;
      writers.push({ name: s.name, ...topicOf(s.topic), stored: s.stored });
    } else if (s.observer) {
      counts.observers++;
    } else {
      counts.readers++;
      const position = s.group ? s.group.lowWater : s.position;
      const lag = Math.max(0, logs.of(s.topic).next - position);
      readers.push({ name: s.name, ...topicOf(s.topic), ...(s.group && { group: s.group.name }), position, lag });
    }
  }
  const groupLags = [...groups.values()].map((g) => ({
    name: g.name,
    ...topicOf(g.topic),
    members: g.members.size,
    position: g.lowWater,
    lag: Math.max(0, logs.of(g.topic).next - g.lowWater),
  }));
  return {
    sessions: counts,
    logNext,
    readers: firstOf(readers, (a, b) => b.lag - a.lag || cmp(a.name, b.name), top),
    groups: firstOf(groupLags, (a, b) => b.lag - a.lag || cmp(a.name, b.name), top),
    writers: firstOf(writers, (a, b) => b.stored - a.stored || cmp(a.name, b.name), top),
  };
}

/** By name (a name is in one list once per topic, and then the order among them does not matter). */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function firstOf<T>(all: T[], order: (a: T, b: T) => number, n: number): T[] {
  return all.sort(order).slice(0, n);
}
