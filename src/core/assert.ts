/** A state the code must never reach: a bug, which stops the process loudly rather than going on wrong. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${message}`);
}
