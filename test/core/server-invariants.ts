import type { ServerCore } from '../../src/core/server/server-core.js';

/** What must hold between any two inputs of a server (src/core/server/invariants.ts), each broken one described. */
export function serverInvariants(core: ServerCore): string[] {
  return core.invariants();
}
