/** A state the code must never reach: a bug, which stops the process loudly rather than going on wrong. */
export function assert(condition: boolean, message: () => string): asserts condition {
  // The message is made only when the state is broken: asserts sit on hot paths.
  if (!condition) throw new Error(`invariant broken: ${message()}`);
}
