import { hideBin } from 'yargs/helpers';
import { FromKind } from '../protocol/constants.js';
import { runReader, type ReaderOptions } from '../io/reader-runtime.js';
import { runSubscription } from '../io/subscription-runtime.js';
import { resolveServers, type Transport } from './address-list.js';
import { readerSayings, refusalLine, takenOverReason } from './client-sayings.js';
import { baseParser, examplesText, favourEventLoop, runCommand, usage, type Example } from './command.js';
import { checkName, clientOptions, topicList } from './client-options.js';
import { clientSecurity } from './client-security.js';
import { ExitCode, UserError } from './exit-codes.js';
import { FORMATS, renderAs, type Format } from './format.js';
import { DEFAULT_TOPIC, isPattern } from '../protocol/topics.js';
import { createLogger, type LogLevel } from './logger.js';

const NAME = 'run-reader';

export const EXAMPLES: Example[] = [
  { command: '$0 --username ops --delay 5', does: 'Every 5 s, print what arrived' },
  { command: '$0 -u worker1 --group jobs', does: 'Share the work: each message to one member of "jobs"' },
  { command: '$0 -u me --who', does: 'Who is online' },
  { command: '$0 -u audit --from earliest --format json > log.jsonl', does: 'The whole log as JSON lines, byte for byte' },
  { command: '$0 -u cron --once', does: 'What arrived since the last run, then exit' },
  { command: "$0 -u ops -t 'logs.>'", does: 'Every topic under logs, also those created later, each with its topic' },
];

const parse = (argv: string[]) =>
  clientOptions(
    baseParser(NAME, argv)
      .usage('$0 --username NAME [options]\n\nPrints the messages of the relay. The server remembers where you stopped.')
      .option('delay', {
        alias: 'd',
        type: 'number',
        default: 0,
        describe: '0: print messages as they arrive; N: poll every N seconds and print each poll as one package',
      })
      .option('from', {
        type: 'string',
        default: 'latest',
        describe: "Where a new name starts: 'latest' or 'earliest'; an id starts there whatever was stored",
      })
      .option('format', {
        alias: 'f',
        choices: FORMATS,
        default: 'text' as const,
        describe: 'text: time, sender, text, control characters escaped; json: one object per line; raw: the text alone, bytes passed through unescaped',
      })
      .option('count', { alias: 'n', type: 'number', describe: 'Exit after printing this many messages' })
      .option('once', {
        type: 'boolean',
        default: false,
        describe: `Print what is there now and exit; with nothing there, say "no messages" and exit ${ExitCode.NoMessages}`,
      })
      .option('group', {
        alias: 'g',
        type: 'string',
        describe: 'Read as a member of this queue group: each message goes to one member only',
      })
      .option('timeout', {
        type: 'number',
        describe: 'Give up (exit 3) when the server answers nothing for this many seconds (default: 5 with --once or --who, else never)',
      })
      .option('who', { type: 'boolean', default: false, describe: 'Print who is registered (online or not, last seen) and exit' })
      .option('topics', { type: 'boolean', default: false, describe: "Print the server's topics (messages, bytes, ids kept, last write) and exit" })
      .option('presence', { type: 'boolean', default: false, describe: 'Also print when others come online or go offline' })
      .epilogue(examplesText(NAME, EXAMPLES)),
    true,
  ).parseSync();

export async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (!(args.delay >= 0) || !Number.isFinite(args.delay)) throw usage(`invalid --delay '${args.delay}': expected seconds, 0 or more`);
  if (args.count !== undefined && !(Number.isInteger(args.count) && args.count > 0)) {
    throw usage(`invalid --count '${args.count}': expected a whole number above 0`);
  }
  const { fromKind, fromId } = parseFrom(args.from);
  const timeoutS = args.timeout ?? (args.once || args.who || args.topics ? 5 : 0);
  if (!(timeoutS >= 0) || !Number.isFinite(timeoutS)) throw usage(`invalid --timeout '${args.timeout}': expected seconds, 0 (never) or more`);
  if (args.group !== undefined) checkName(args.group, '--group');
  if (args.who && (args.group !== undefined || args.presence || args.once || args.count !== undefined)) {
    throw usage('--who prints the registry and exits: it goes with no --group, --presence, --once or --count');
  }
  if (args.format === 'raw' && (args.who || args.presence)) throw usage('--who and --presence print text or json, not raw');
  if (args.topics && (args.who || args.topic !== undefined || args.group !== undefined || args.presence || args.once || args.count !== undefined || args.format === 'raw')) {
    throw usage('--topics prints the topics and exits: it goes with no --who, --topic, --group, --presence, --once, --count or --format raw');
  }

  const topics = args.topic === undefined ? undefined : [...new Set(topicList(args.topic))];
  // --who reads no topic: the registry is the server's.
  const several = !args.who && topics !== undefined && (topics.length > 1 || isPattern(topics[0]!));
  if (several && args.presence) throw usage('--presence reads one topic: with several topics or a pattern, it does not go');

  const logger = await createLogger(NAME, args['log-level'] as LogLevel);
  favourEventLoop(logger);
  const servers = await resolveServers(args.address, args.port, args.transport as Transport);
  const sayings = readerSayings(logger, { name: args.username, servers });
  const common: Omit<ReaderOptions, 'render' | 'count'> = {
    servers,
    name: args.username,
    fromKind,
    fromId,
    delayMs: args.delay * 1000,
    once: args.once,
    output: process.stdout,
    tell: sayings.tell,
    timeoutMs: timeoutS * 1000,
    ...clientSecurity(args),
    ...(args.group !== undefined && { group: args.group }),
  };
  const format = args.format as Format;
  const outcome = several
    ? await runSubscription({ ...common, topics: topics!, count: args.count ?? 0, render: (topic) => renderAs(format, topic, true), warn: (message) => logger.warn(message) })
    : await runReader({
        ...common,
        ...(topics !== undefined && !args.who && { topic: topics[0]! }),
        count: args.count ?? 0,
        render: renderAs(format, topics?.[0] ?? DEFAULT_TOPIC),
        ...((args.who || args.presence) && { presence: args.who ? ('who' as const) : ('watch' as const) }),
        ...(args.topics && { listTopics: true }),
      });
  if (outcome.kind === 'refused') throw new UserError(refusalLine(outcome), ExitCode.Refused);
  if (outcome.kind === 'taken-over') throw new UserError(`refused by the server: ${takenOverReason(args.username)}`, ExitCode.Refused);
  if (outcome.kind === 'unreachable') {
    throw new UserError(`server ${sayings.server} is not responding (no answer within ${timeoutS} s)`, ExitCode.Unreachable);
  }
  // Stopped before it could say: "no messages" would tell a cron job that nothing is new.
  if (outcome.interrupted && (args.once || args.who || args.topics) && outcome.printed === 0) throw new UserError('interrupted before the server answered', ExitCode.Unreachable);
  if (args.once && outcome.printed === 0) throw new UserError('no messages', ExitCode.NoMessages);
  return ExitCode.Ok;
}

function parseFrom(from: string): { fromKind: FromKind; fromId: number } {
  if (from === 'latest') return { fromKind: FromKind.Latest, fromId: 0 };
  if (from === 'earliest') return { fromKind: FromKind.Earliest, fromId: 0 };
  if (/^\d+$/.test(from) && Number(from) >= 1 && Number.isSafeInteger(Number(from))) {
    return { fromKind: FromKind.Id, fromId: Number(from) };
  }
  throw usage(`invalid --from '${from}': expected latest, earliest or a message id`);
}

export const run = (): void => runCommand(NAME, () => main(hideBin(process.argv)));
