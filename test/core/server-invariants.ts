import type { ServerCore } from '../../src/core/server/server-core.js';

/** The parts of a server's state the invariants are about (read from outside: the core keeps them private). */
interface Inside {
  sessions: Map<bigint, { id: bigint; nameKey: string; role: number; producerId?: bigint; fetch?: unknown }>;
  byName: Map<string, { id: bigint; nameKey: string }>;
  byProducer: Map<bigint, { id: bigint; producerId?: bigint }>;
  parked: Set<{ id: bigint; fetch?: unknown }>;
  groups: Map<string, { members: Set<{ id: bigint }> }>;
  retired: Map<bigint, unknown>;
  left: Map<bigint, unknown>;
  sweepAt: number | undefined;
}

/**
 * What must hold between any two inputs of a server: every index points at live sessions only (an ended
 * session must leave each of them, or it is kept forever and may be found again), and while anything
 * waits to expire, a sweep is due. Returns each broken one, described.
 */
export function serverInvariants(core: ServerCore): string[] {
  const c = core as unknown as Inside;
  const broken: string[] = [];
  const live = (s: { id: bigint }): boolean => c.sessions.get(s.id) === s;
  for (const [key, s] of c.byName) {
    if (!live(s)) broken.push(`the name ${key} points at session ${s.id}, which ended`);
    else if (s.nameKey !== key) broken.push(`the name ${key} points at session ${s.id}, named ${s.nameKey}`);
  }
  for (const [id, w] of c.byProducer) {
    if (!live(w)) broken.push(`writer ${id} points at session ${w.id}, which ended`);
    else if (w.producerId !== id) broken.push(`writer ${id} points at session ${w.id}, of writer ${w.producerId}`);
  }
  for (const r of c.parked) {
    if (!live(r)) broken.push(`session ${r.id} is parked, yet ended`);
    else if (!r.fetch) broken.push(`session ${r.id} is parked with no fetch to answer`);
  }
  for (const [name, g] of c.groups) for (const m of g.members) if (!live(m)) broken.push(`group ${name} has member ${m.id}, which ended`);
  if (c.sweepAt === undefined && c.sessions.size + c.retired.size + c.left.size > 0) broken.push('sessions wait to expire with no sweep due');
  return broken;
}
