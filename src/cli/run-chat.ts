import { hideBin } from 'yargs/helpers';
import { formatAddress } from '../core/address.js';
import { ChatEnded, startChat, type Chat } from '../io/chat-runtime.js';
import { isValidName, NAME_RULE } from '../protocol/names.js';
import { ChatRoom, chatFailure } from './chat-room.js';
import { ChatScreen } from './chat-screen.js';
import { describeServers, resolveServers } from './address-list.js';
import { baseParser, examplesText, favourEventLoop, runCommand, type Example } from './command.js';
import { clientOptions } from './client-options.js';
import { ExitCode } from './exit-codes.js';
import { escapeControls } from './format.js';

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

const parse = (argv: string[]) =>
  clientOptions(
    baseParser(NAME, argv)
      .usage('$0 --username NAME [options]\n\nChat: read and write at one terminal. /help inside lists the commands.')
      .option('timeout', {
        type: 'number',
        default: 30,
        describe: 'Give up when the server answers nothing (or confirms nothing) for this many seconds',
      })
      .epilogue(examplesText(NAME, EXAMPLES)),
  ).parseSync();

export async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  favourEventLoop();
  const servers = await resolveServers(args.address, args.port);
  const me = args.username;
  const { where } = describeServers(args.address, args.port);
  const view: { screen?: ChatScreen } = {};
  const room = new ChatRoom(me, servers.map(formatAddress).join(', '), () => view.screen?.close());
  const chat: Chat = await startChat(
    { servers, name: me, timeoutMs: args.timeout * 1000, ...(args.secret !== undefined && { secret: args.secret }) },
    room,
  ).catch((err: unknown) => {
    throw err instanceof ChatEnded ? chatFailure(err.end, me, servers.map(formatAddress).join(', '), false) : err;
  });

  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => (finish = r));
  view.screen = new ChatScreen(process.stdin, process.stdout, `${me}> `, (line) => onLine(line, chat, room), () => {
    void room
      .whoAnswer(Math.min(args.timeout * 1000, 5_000))
      .then(() => chat.close())
      .then(() => finish(ExitCode.Ok), () => finish(ExitCode.Ok));
  });
  const screen = view.screen;
  screen.print(`-- connected to ${where} as ${me}; /help lists the commands`);
  room.showOn((line) => screen.print(line));
  const code = await finished;
  // /quit leaves the terminal open (unlike Ctrl-D): let go of it, or it would keep the process alive.
  process.stdin.destroy();
  if (room.failure) throw room.failure;
  return code;
}

/** One line typed: a message, or a command. */
function onLine(raw: string, chat: Chat, room: ChatRoom): void {
  const line = raw.replace(/\r$/, '');
  if (line.trim() === '') return;
  if (line.startsWith('//')) return chat.send(line.slice(1));
  if (!line.startsWith('/')) return chat.send(line);
  const [cmd, ...rest] = line.split(' ');
  switch (cmd) {
    case '/to': {
      const [to, ...words] = rest;
      if (!to || words.length === 0) return room.show('-- usage: /to NAME text');
      if (!isValidName(to)) return room.show(`-- invalid name '${escapeControls(to)}': ${NAME_RULE}`);
      chat.send(words.join(' '), to);
      if (!room.hasSeen(to)) room.show(`-- ${to} has never been seen here; the message is kept for ${to} anyway`);
      return;
    }
    case '/who':
      room.askedWho();
      return chat.who();
    case '/quit':
    case '/exit':
      return room.quit();
    case '/help':
      for (const l of HELP) room.show(`-- ${l}`);
      return;
    default:
      return room.show(`-- unknown command ${escapeControls(cmd ?? '')}; /help lists them`);
  }
}

export const run = (): void => runCommand(NAME, () => main(hideBin(process.argv)));
