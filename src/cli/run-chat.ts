import { hideBin } from 'yargs/helpers';
import { formatAddress } from '../core/address.js';
import { ChatEnded, startChat, type Chat } from '../io/chat-runtime.js';
import { isValidName, NAME_RULE } from '../protocol/names.js';
import { ChatRoom, chatFailure } from './chat-room.js';
import { ChatScreen } from './chat-screen.js';
import { describeServers, resolveServers, type Transport } from './address-list.js';
import { baseParser, examplesText, favourEventLoop, runCommand, usage, type Example } from './command.js';
import { clientSecurity } from './client-security.js';
import { clientOptions } from './client-options.js';
import { ExitCode } from './exit-codes.js';
import { escapeControls } from './format.js';

const NAME = 'run-chat';
const RECEIPTS_POLL_MS = 1_000;

const HELP = [
  'type a line and press Enter to send it to everyone',
  '/to NAME text   a direct message, only NAME reads it (kept for NAME while away); you are told when it is delivered',
  '/who            who is registered, online or not, and when last seen',
  '/away           go offline without leaving; what comes meanwhile waits for you',
  '/back           come back: you are told how many messages waited, and shown them',
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
  if (!(args.timeout > 0)) throw usage(`invalid --timeout '${args.timeout}': expected seconds above 0`);
  favourEventLoop();
  const servers = await resolveServers(args.address, args.port, args.transport as Transport);
  const me = args.username;
  const { where } = describeServers(args.address, args.port, args.transport as Transport);
  const view: { screen?: ChatScreen } = {};
  const room = new ChatRoom(me, servers.map(formatAddress).join(', '), () => view.screen?.close());
  const options = { servers, name: me, ...(args.topic !== undefined && { topic: args.topic }), timeoutMs: args.timeout * 1000, ...clientSecurity(args) };
  const failure = (err: unknown): unknown => (err instanceof ChatEnded ? chatFailure(err.end, me, servers.map(formatAddress).join(', '), false) : err);
  const presence = new Presence(
    await startChat(options, room).catch((err: unknown) => {
      throw failure(err);
    }),
    room,
    () => startChat(options, room),
    (err) => (failure(err) as Error).message,
  );

  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => (finish = r));
  view.screen = new ChatScreen(process.stdin, process.stdout, `${me}> `, (line) => onLine(line, presence, room), () => {
    const waitMs = Math.min(args.timeout * 1000, 5_000);
    void Promise.all([room.whoAnswer(waitMs), room.receipts.settled(waitMs)])
      .then(() => {
        room.caughtUp(); // what came and was held is shown before leaving
        return presence.leave();
      })
      .then(() => finish(ExitCode.Ok), () => finish(ExitCode.Ok));
  });
  const screen = view.screen;
  room.track = (name, requestId) => presence.chat?.track(name, requestId);
  // Receipts still owed are asked for again each second.
  const receipts = setInterval(() => room.receipts.poll(), RECEIPTS_POLL_MS).unref();
  screen.print(`-- connected to ${where} as ${me}; /help lists the commands`);
  room.showOn((line) => screen.print(line));
  const code = await finished;
  clearInterval(receipts);
  // /quit leaves the terminal open (unlike Ctrl-D): let go of it, or it would keep the process alive.
  process.stdin.destroy();
  if (room.failure) throw room.failure;
  return code;
}

/** The chat's sessions, and /away and /back: closed while away, opened again on return. */
class Presence {
  /** Undefined while away (or on the way there or back). */
  chat: Chat | undefined;
  private state: 'here' | 'away' | 'moving' = 'here';

  constructor(
    chat: Chat,
    private readonly room: ChatRoom,
    private readonly open: () => Promise<Chat>,
    private readonly why: (err: unknown) => string,
  ) {
    this.chat = chat;
  }

  away(): void {
    if (this.state !== 'here') return this.room.show(this.state === 'away' ? '-- you are away already; /back to return' : '-- one moment');
    const chat = this.chat!;
    this.chat = undefined;
    this.state = 'moving';
    this.room.away();
    void chat.close().then(() => {
      this.state = 'away';
      this.room.show('-- you are away: nothing is sent or received until /back; messages for you wait on the server');
    });
  }

  back(): void {
    if (this.state !== 'away') return this.room.show(this.state === 'here' ? '-- you are here already' : '-- one moment');
    this.state = 'moving';
    this.room.back();
    this.room.receipts.restart();
    this.open().then(
      (chat) => {
        this.chat = chat;
        this.state = 'here';
        this.room.show('-- you are back');
      },
      (err: unknown) => {
        this.state = 'away';
        this.room.show(`-- could not come back: ${this.why(err)}; /back to try again`);
      },
    );
  }

  /** Leaving: the sessions sign off, if there are any. */
  leave(): Promise<void> {
    return this.chat?.close() ?? Promise.resolve();
  }
}

/** One line typed: a message, or a command. */
function onLine(raw: string, presence: Presence, room: ChatRoom): void {
  const line = raw.replace(/\r$/, '');
  if (line.trim() === '') return;
  if (line === '/away') return presence.away();
  if (line === '/back') return presence.back();
  if (line === '/quit' || line === '/exit') return room.quit();
  if (line === '/help') return HELP.forEach((l) => room.show(`-- ${l}`));
  const chat = presence.chat;
  if (!chat) return room.show('-- you are away: /back first (what you type is not sent meanwhile)');
  const send = (text: string, to?: string): void => {
    room.receipts.sent(to);
    chat.send(text, to);
  };
  if (line.startsWith('//')) return send(line.slice(1));
  if (!line.startsWith('/')) return send(line);
  const [cmd, ...rest] = line.split(' ');
  switch (cmd) {
    case '/to': {
      const [to, ...words] = rest;
      if (!to || words.length === 0) return room.show('-- usage: /to NAME text');
      if (!isValidName(to)) return room.show(`-- invalid name '${escapeControls(to)}': ${NAME_RULE}`);
      return send(words.join(' '), to);
    }
    case '/who':
      room.askedWho();
      return chat.who();
    default:
      return room.show(`-- unknown command ${escapeControls(cmd ?? '')}; /help lists them`);
  }
}

export const run = (): void => runCommand(NAME, () => main(hideBin(process.argv)));
