import type { Argv } from 'yargs';
import { isValidName, NAME_RULE } from '../protocol/names.js';
import { DEFAULT_TOPIC, isValidPattern, isValidTopic, PATTERN_RULE, TOPIC_RULE } from '../protocol/topics.js';
import { TRANSPORTS } from './address-list.js';
import { usage } from './command.js';

export const DEFAULT_PORT = 12345;

/** Options shared by the clients: who we are and where the server is. `several`: --topic may name several topics, or patterns (a reader). */
export function clientOptions<T>(parser: Argv<T>, several = false) {
  return parser
    // A client that succeeds in a script prints nothing on stderr; at a terminal it says what it does.
    .default('log-level', process.stderr.isTTY ? 'info' : 'warn')
    .option('username', { alias: 'u', type: 'string', demandOption: true, describe: 'Your name on the relay' })
    .option('topic', {
      alias: 't',
      type: 'string',
      describe: several
        ? `The topic to read (${DEFAULT_TOPIC} when not given), or several: a list (logs.web,logs.db), patterns (logs.*: one segment; logs.>: one or more)`
        : `The topic to write to or read (${DEFAULT_TOPIC} when not given): dot-separated segments, e.g. logs.web1`,
    })
    .option('address', {
      alias: 'a',
      type: 'string',
      default: '127.0.0.1',
      describe: 'Server host, or several as host[:port],host[:port]: when one stops answering, the next is used; tcp://host[:port] is reached over TCP',
    })
    .option('transport', {
      type: 'string',
      choices: TRANSPORTS,
      default: 'udp',
      describe: 'How to reach the servers: udp, or tcp where UDP is dropped or blocked (per server: tcp://host:port)',
    })
    .option('port', { alias: 'p', type: 'string', default: String(DEFAULT_PORT), coerce: portInput(false), describe: 'Server port (for hosts given without one)' })
    .option('secret', {
      type: 'string',
      describe: 'Your secret, for a server in authenticated mode (prefer RELAY_SECRET: the command line is visible to others)',
    })
    .option('server-key', {
      type: 'string',
      describe: "The server's key fingerprint (SHA256:..., as it prints at start-up): refuse any other. Without it, the key met first is remembered in known_servers",
    })
    .option('insecure-plaintext', {
      type: 'boolean',
      default: false,
      describe: 'Talk to a server run with --insecure-plaintext: nothing encrypted, for measuring and debugging only',
    })
    .check((argv) => {
      if (argv.secret === '') throw usage('invalid --secret: it is empty');
      checkName(argv.username, 'username');
      if (argv.topic !== undefined) checkTopics(argv.topic, several);
      return true;
    });
}

function checkTopics(given: string, several: boolean): void {
  if (!several) {
    if (!isValidTopic(given)) throw usage(`invalid --topic '${given}': ${TOPIC_RULE}`);
    return;
  }
  for (const t of topicList(given)) if (!isValidPattern(t)) throw usage(`invalid --topic '${t}': ${TOPIC_RULE}; or ${PATTERN_RULE}`);
}

/** The topics and patterns of a reader's --topic (a comma-separated list). */
export const topicList = (given: string): string[] => given.split(',').map((t) => t.trim());

export function checkName(name: string, what: string): void {
  if (!isValidName(name)) throw usage(`invalid ${what} '${name}': ${NAME_RULE}`);
}

/** Reads a --port as given (a number is parsed here, so that a bad one is named as the user typed it). */
export const portInput =
  (zeroAllowed: boolean) =>
  (raw: string | number): number => {
    const text = String(raw).trim();
    const port = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(port) || port < (zeroAllowed ? 0 : 1) || port > 65535) {
      throw usage(`invalid port '${String(raw)}': expected an integer from ${zeroAllowed ? 0 : 1} to 65535`);
    }
    return port;
  };

