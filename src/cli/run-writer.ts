import { statSync } from 'node:fs';
import { hideBin } from 'yargs/helpers';
import { runWriter } from '../io/writer-runtime.js';
import { patternProblem } from '../io/follow/file-patterns.js';
import { describeServers, resolveServers, type Transport } from './address-list.js';
import { refusalLine, takenOverReason, writerSayings } from './client-sayings.js';
import { baseParser, examplesText, favourEventLoop, runCommand, sayTo, usage, type Example } from './command.js';
import { checkName, clientOptions } from './client-options.js';
import { clientSecurity } from './client-security.js';
import { ExitCode, UserError } from './exit-codes.js';
import { createLogger, type LogLevel } from './logger.js';
import { ProgressLine, type LineCounts } from './progress-line.js';

const NAME = 'run-writer';

export const EXAMPLES: Example[] = [
  { command: 'tail -f app.log | $0 --username web1', does: 'Relay a log as it grows' },
  { command: "echo 'deploy done' | $0 -u ci --to ops", does: 'A direct message to ops' },
  { command: '$0 -u ci --file report.txt', does: 'A whole file as one message' },
  { command: "$0 -u web1 --follow /var/log/app.log", does: 'Ship a log file, each line once across restarts and rotation' },
];

const parse = (argv: string[]) =>
  clientOptions(
    baseParser(NAME, argv)
      .usage('$0 --username NAME [options]\n\nSends every line of standard input as one message.')
      .option('to', { type: 'string', describe: 'Send direct messages that only this user reads' })
      .option('file', {
        type: 'string',
        describe: 'Send this file as one message, newlines included (instead of one message per stdin line)',
      })
      .option('follow', {
        type: 'string',
        array: true,
        describe:
          "Follow these files as tail -F does (paths, or patterns with * and ? in the file name: quote them), resuming where this --username left off: every line once, across restarts and rotation",
      })
      .option('from-start', {
        type: 'boolean',
        default: false,
        describe: "With --follow, the first time: read files that exist from their start (default: their end)",
      })
      .option('timeout', {
        type: 'number',
        default: 30,
        describe: 'Give up when the server has confirmed nothing for this many seconds',
      })
      .epilogue(examplesText(NAME, EXAMPLES)),
  ).parseSync();

export async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args.to !== undefined) checkName(args.to, '--to user');
  const follow = followed(args.follow, args.file, args['from-start']);
  if (args.file !== undefined) {
    const st = statSync(args.file, { throwIfNoEntry: false });
    if (!st?.isFile()) throw usage(`cannot read --file '${args.file}': ${st ? 'not a regular file' : 'no such file'}`);
  }
  if (!(args.timeout > 0)) throw usage(`invalid --timeout '${args.timeout}': expected seconds above 0`);

  // A long write on a terminal shows how it goes; piped stderr, or a person typing, never sees it.
  let progress: ProgressLine | undefined;
  const showProgress = process.stderr.isTTY && !process.stdin.isTTY && args.file === undefined && follow === undefined;
  const logger = await createLogger(NAME, args['log-level'] as LogLevel, () => progress?.clear());
  favourEventLoop(logger);
  const sayLine = sayTo(NAME);
  const say = (line: string): void => {
    progress?.clear();
    sayLine(line);
  };
  const servers = await resolveServers(args.address, args.port, args.transport as Transport);
  const outcome = await runWriter({
    servers,
    name: args.username,
    ...(args.topic !== undefined && { topic: args.topic }),
    ...(args.to !== undefined && { to: args.to }),
    timeoutMs: args.timeout * 1000,
    input: process.stdin,
    ...(args.file !== undefined && { file: args.file }),
    ...(follow !== undefined && { follow: { patterns: follow, fromStart: args['from-start'] } }),
    warn: (message: string) => logger.warn(message),
    trace: (message: string) => logger.debug(message),
    tell: writerSayings(logger, say, { name: args.username, servers, ...(args.file !== undefined && { file: args.file }) }).tell,
    ...clientSecurity(args),
    ...(showProgress && {
      watch: (counts: () => LineCounts) => {
        progress = new ProgressLine(process.stderr, counts);
        progress.start();
      },
    }),
  }).finally(() => progress?.stop());
  const where = describeServers(args.address, args.port, args.transport as Transport);
  switch (outcome.kind) {
    case 'done':
      logger.debug({ confirmed: outcome.confirmed }, 'all lines confirmed');
      if (outcome.rejected > 0) {
        say(`${outcome.rejected} line(s) over the size limit were not sent`);
        return ExitCode.LinesRejected;
      }
      return ExitCode.Ok;
    case 'refused':
      throw new UserError(refusalLine(outcome), ExitCode.Refused);
    case 'taken-over':
      throw new UserError(`refused by the server: ${takenOverReason(args.username)}`, ExitCode.Refused);
    case 'input-failed':
      throw new UserError(outcome.reason, ExitCode.Usage);
    case 'failed':
      if (outcome.interrupted) {
        const lost = outcome.unconfirmed > 0 ? `: ${outcome.unconfirmed} line(s) not confirmed by the server; they may not have been stored` : '';
        throw new UserError(`interrupted${lost}`, ExitCode.Unreachable);
      }
      if (!outcome.registered) {
        const unsent = outcome.unconfirmed > 0 ? `; ${outcome.unconfirmed} line(s) read and not sent` : '; nothing was sent';
        throw new UserError(`${where.name} ${where.are} not responding (no answer within ${args.timeout} s)${unsent}`, ExitCode.Unreachable);
      }
      if (outcome.reason !== undefined) {
        throw new UserError(
          `${where.name} could not store ${outcome.unconfirmed} line(s) within ${args.timeout} s (${outcome.reason}); they may not have been stored`,
          ExitCode.Unreachable,
        );
      }
      throw new UserError(
        `${where.name} did not confirm ${outcome.unconfirmed} line(s) within ${args.timeout} s; they may not have been stored`,
        ExitCode.Unreachable,
      );
  }
}

/** `--follow`'s files, checked; undefined without it. */
function followed(follow: (string | number)[] | undefined, file: string | undefined, fromStart: boolean): string[] | undefined {
  if (follow === undefined) {
    if (fromStart) throw usage('--from-start goes with --follow');
    return undefined;
  }
  if (follow.length === 0) throw usage('--follow needs at least one file');
  if (file !== undefined) throw usage('--follow and --file cannot be used together');
  for (const p of follow.map(String)) {
    const problem = patternProblem(p);
    if (problem) throw usage(problem);
  }
  return follow.map(String);
}

export const run = (): void => runCommand(NAME, () => main(hideBin(process.argv)));
