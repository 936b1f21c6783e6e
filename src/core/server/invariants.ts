import type { ParkedPolls } from './fetch-replies.js';
import type { QueueGroup } from './queue-group.js';
import type { ReaderSession, SessionTable } from './sessions.js';

/**
 * What must hold between any two inputs of a server: every index points at live sessions only (an ended
 * session must leave each of them, or it is kept forever and may be found again), and while anything
 * waits to expire, a sweep is due. Returns each broken one, described: the tests and the simulation check
 * them after every step.
 */
export function serverInvariants(
  sessions: SessionTable,
  parked: ParkedPolls,
  groups: ReadonlyMap<string, QueueGroup<ReaderSession>>,
  sweepAt: number | undefined,
): string[] {
  const broken: string[] = [];
  for (const [key, s] of sessions.byName) {
    if (!sessions.isLive(s)) broken.push(`the name ${key} points at session ${s.id}, which ended`);
    else if (s.nameKey !== key) broken.push(`the name ${key} points at session ${s.id}, named ${s.nameKey}`);
  }
  for (const [id, w] of sessions.byProducer) {
    if (!sessions.isLive(w)) broken.push(`writer ${id} points at session ${w.id}, which ended`);
    else if (w.producerId !== id) broken.push(`writer ${id} points at session ${w.id}, of writer ${w.producerId}`);
  }
  for (const r of parked.readers) {
    if (!sessions.isLive(r)) broken.push(`session ${r.id} is parked, yet ended`);
    else if (!r.fetch) broken.push(`session ${r.id} is parked with no fetch to answer`);
  }
  for (const [name, g] of groups) for (const m of g.members) if (!sessions.isLive(m)) broken.push(`group ${name} has member ${m.id}, which ended`);
  if (sweepAt === undefined && sessions.waiting > 0) broken.push('sessions wait to expire with no sweep due');
  return broken;
}
