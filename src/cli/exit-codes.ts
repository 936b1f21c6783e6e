/** Exit codes of the three commands, documented in README.md. */
export const ExitCode = {
  Ok: 0,
  /** A bug: an unexpected exception. */
  Internal: 1,
  /** Bad command-line arguments. */
  Usage: 2,
  /** The server did not answer or did not confirm in time. */
  Unreachable: 3,
  /** The server refused us: name in use, bad name, too many sessions. */
  Refused: 4,
  /** Some input lines were not sent (over the size limit); the rest were. */
  LinesRejected: 5,
  /** run-reader --once: there was nothing to read. */
  NoMessages: 6,
  /** The server could not start: port in use, store cannot be opened. */
  StartFailed: 7,
  /** Stopped by SIGINT before the work was done. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An expected failure: one line for the user, a documented exit code, no stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}
