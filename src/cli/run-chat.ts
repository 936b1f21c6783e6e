import { hideBin } from 'yargs/helpers';
import type { Message } from '../core/reader/reader-core.js';
import { ChatEnded, startChat, type Chat } from '../io/chat-runtime.js';
import { isValidName, NAME_RULE } from '../protocol/names.js';
import type { PresenceEntry } from '../protocol/packets.js';
import { ChatScreen } from './chat-screen.js';
import { describeServers, resolveServers } from './address-list.js';
import { baseParser, examplesText, favourEventLoop, runCommand, type Example } from './command.js';
import { clientOptions } from './client-options.js';
import { ExitCode, UserError } from './exit-codes.js';
import { escapeControls, formatMessage, formatRegistry, localTime } from './format.js';

const NAME = 'run-chat';

const HELP = [
  'type a line and press Enter to send it to everyone',
  '/to NAME text   a direct message, only NAME reads it (kept for NAME while away)',
  '/who            who is registered, online or not, and when last seen',
  '/quit           leave (Ctrl-D and Ctrl-C too)',
  '//text          send a line that starts with /',
];

export const EXAMPLES: Example[] = [
  { command: '$0 --username alice --address relay.lan', does: 'Join the chat on relay.lan' },
];

export async function main(argv: string[]): Promise<number> {
  const args = clientOptions(
    baseParser(NAME, argv)
      .usage('$0 --username NAME [options]\n\nChat: read and write at one terminal. /help inside lists the commands.')
      .option('timeout', {
        type: 'number',
        default: 30,
        describe: 'Give up when the server answers nothing (or confirms nothing) for this many seconds',
      })
      .epilogue(examplesText(NAME, EXAMPLES)),
  ).parseSync();
  favourEventLoop();
  const servers = await resolveServers(args.address, args.port);
  const me = args.username;
  const { where } = describeServers(args.address, args.port);

  // Lines that arrive before the screen exists wait for it.
  const view: { screen?: ChatScreen } = {};
  const pending: string[] = [];
  const show = (line: string): void => {
    if (view.screen) view.screen.print(line);
    else pending.push(line);
  };
  const online = new Map<string, Set<string>>();
  /** Every name the registry has shown: a direct message to another is kept, and the sender told so. */
  const seen = new Set<string>([me]);
  let seeded = false;
  let whoAsked = false;
  /** Input ended with a /who unanswered (a piped `/who`): its answer is printed before leaving. */
  let whoAnswered: (() => void) | undefined;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => (finish = r));
  let failure: UserError | undefined;

  const chat: Chat = await startChat(
    { servers, name: me, timeoutMs: args.timeout * 1000, ...(args.secret !== undefined && { secret: args.secret }) },
    {
      message: (m: Message) => {
        // What I typed is on the screen already.
        if (m.from === me && m.to === undefined) return;
        show(formatMessage(m, 'text').toString().replace(/\n$/, ''));
      },
      registry: (entries: PresenceEntry[]) => {
        for (const e of entries) seen.add(e.name);
        if (!seeded) {
          seeded = true;
          for (const e of entries) if (e.online) online.set(e.name, (online.get(e.name) ?? new Set<string>()).add(e.role));
        }
        if (!whoAsked) return;
        whoAsked = false;
        for (const l of formatRegistry(entries, 'text').split('\n').filter(Boolean)) show(l);
        whoAnswered?.();
      },
      presence: (changes: PresenceEntry[]) => {
        for (const e of changes) {
          seen.add(e.name);
          const roles = online.get(e.name) ?? new Set<string>();
          const was = roles.size > 0;
          if (e.online) roles.add(e.role);
          else roles.delete(e.role);
          online.set(e.name, roles);
          if (was !== roles.size > 0) show(`${localTime(e.lastSeen)} * ${e.name} is ${roles.size > 0 ? 'online' : 'offline'}`);
        }
      },
      status: (line) => show(`-- ${line}`),
      ended: (reason, kind) => {
        failure = new UserError(reason, kind === 'refused' ? ExitCode.Refused : ExitCode.Unreachable);
        whoAnswered?.();
        view.screen?.close();
      },
    },
  ).catch((err: unknown) => {
    if (err instanceof ChatEnded) {
      throw new UserError(err.kind === 'refused' ? `refused by the server: ${err.message}` : err.message, err.kind === 'refused' ? ExitCode.Refused : ExitCode.Unreachable);
    }
    throw err;
  });

  const onLine = (raw: string): void => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    if (line.startsWith('//')) return chat.send(line.slice(1));
    if (!line.startsWith('/')) return chat.send(line);
    const [cmd, ...rest] = line.split(' ');
    switch (cmd) {
      case '/to': {
        const [to, ...words] = rest;
        if (!to || words.length === 0) return show('-- usage: /to NAME text');
        if (!isValidName(to)) return show(`-- invalid name '${escapeControls(to)}': ${NAME_RULE}`);
        chat.send(words.join(' '), to);
        if (!seen.has(to)) show(`-- ${to} has never been seen here; the message is kept for ${to} anyway`);
        return;
      }
      case '/who':
        whoAsked = true;
        return chat.who();
      case '/quit':
      case '/exit':
        return view.screen!.close();
      case '/help':
        for (const l of HELP) show(`-- ${l}`);
        return;
      default:
        return show(`-- unknown command ${escapeControls(cmd ?? '')}; /help lists them`);
    }
  };
  const whoAnswer = (): Promise<void> =>
    new Promise((done) => {
      if (!whoAsked || failure) return done();
      whoAnswered = done;
      setTimeout(done, Math.min(args.timeout * 1000, 5_000)).unref();
    });
  view.screen = new ChatScreen(process.stdin, process.stdout, `${me}> `, onLine, () => {
    void whoAnswer()
      .then(() => chat.close())
      .then(() => finish(failure ? -1 : ExitCode.Ok), () => finish(ExitCode.Ok));
  });
  show(`-- connected to ${where} as ${me}; /help lists the commands`);
  for (const l of pending.splice(0)) show(l);
  const code = await finished;
  // /quit leaves the terminal open (unlike Ctrl-D): let go of it, or it would keep the process alive.
  process.stdin.destroy();
  if (failure) throw failure;
  return code;
}

export const run = (): void => runCommand(NAME, () => main(hideBin(process.argv)));
