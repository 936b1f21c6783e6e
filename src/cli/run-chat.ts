import { hideBin } from 'yargs/helpers';
import { formatAddress } from '../core/address.js';
import { ChatEnded, DIRECT_TOPIC, listRooms, startChat, type Chat } from '../io/chat-runtime.js';
import { isValidName, NAME_RULE } from '../protocol/names.js';
import { DEFAULT_TOPIC, isValidTopic, TOPIC_RULE } from '../protocol/topics.js';
import { ChatRoom, chatFailure } from './chat-room.js';
import { ChatScreen } from './chat-screen.js';
import { describeServers, resolveServers, type Transport } from './address-list.js';
import { baseParser, examplesText, favourEventLoop, runCommand, usage, type Example } from './command.js';
import { clientSecurity } from './client-security.js';
import { clientOptions } from './client-options.js';
import { ExitCode } from './exit-codes.js';
import { escapeControls, formatTopics } from './format.js';

const NAME = 'run-chat';
const RECEIPTS_POLL_MS = 1_000;

const HELP = [
  'type a line and press Enter to send it to everyone in the room',
  '/to NAME text   a direct message, only NAME reads it, in whatever room (kept for NAME while away); you are told when it is delivered',
  '/who            who is in this room, or was last here, and when last seen',
  '/join ROOM      talk in another room (a topic: chat.dev); what is said here stays here',
  '/leave          back to the room this chat started in',
  '/rooms          the rooms (topics) on the server: messages, last written',
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
  const firstRoom = args.topic ?? DEFAULT_TOPIC;
  const room = new ChatRoom(me, servers.map(formatAddress).join(', '), () => view.screen?.close(), firstRoom);
  const options = { servers, name: me, timeoutMs: args.timeout * 1000, ...clientSecurity(args) };
  const failure = (err: unknown): unknown => (err instanceof ChatEnded ? chatFailure(err.end, me, servers.map(formatAddress).join(', '), false) : err);
  const presence = new Presence(
    await startChat({ ...options, topic: firstRoom }, room).catch((err: unknown) => {
      throw failure(err);
    }),
    room,
    (topic) => startChat({ ...options, topic }, room),
    (err) => (failure(err) as Error).message,
    firstRoom,
  );
  const rooms = (): void =>
    presence.wait(
      listRooms(options).then(
        (topics) => {
          // Where direct messages wait is not a room.
          const rooms = topics.filter((t) => t.topic !== DIRECT_TOPIC);
          for (const l of formatTopics(rooms, 'text').split('\n').filter(Boolean)) room.show(`-- ${l}`);
          room.show(`-- you are in ${presence.here}`);
        },
        (err: unknown) => room.show(`-- cannot list the rooms: ${(failure(err) as Error).message}`),
      ),
    );

  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => (finish = r));
  view.screen = new ChatScreen(process.stdin, process.stdout, `${me}> `, (line) => onLine(line, presence, room, rooms), () => {
    const waitMs = Math.min(args.timeout * 1000, 5_000);
    void Promise.all([room.whoAnswer(waitMs), room.receipts.settled(waitMs)])
      .then(() => {
        room.caughtUp(); // what came and was held is shown before leaving
        return presence.leave();
      })
      .then(() => finish(ExitCode.Ok), () => finish(ExitCode.Ok));
  });
  const screen = view.screen;
  presence.replay = (line) => onLine(line, presence, room, rooms);
  room.track = (name, requestId) => presence.chat?.track(name, requestId);
  // Receipts still owed are asked for again each second.
  const receipts = setInterval(() => room.receipts.poll(), RECEIPTS_POLL_MS).unref();
  screen.print(`-- connected to ${where} as ${me}, in ${firstRoom}; /help lists the commands`);
  room.showOn((line) => screen.print(line));
  const code = await finished;
  clearInterval(receipts);
  // /quit leaves the terminal open (unlike Ctrl-D): let go of it, or it would keep the process alive.
  process.stdin.destroy();
  if (room.failure) throw room.failure;
  return code;
}

/** The chat's sessions: /away and /back (closed while away, opened again on return), /join and /leave (opened in another room). */
class Presence {
  /** Undefined while away (or on the way there, back, or to another room). */
  chat: Chat | undefined;
  private state: 'here' | 'away' | 'moving' = 'here';
  /** The room (topic) the sessions are in, or go back to. */
  here: string;
  /** Lines typed while the sessions move: sent, in order, once they are open again. */
  private readonly held: string[] = [];
  /** The move under way: leaving waits for it. */
  private move: Promise<void> = Promise.resolve();
  /** Where held lines go once the sessions are open (the chat's own line handling). */
  replay: (line: string) => void = () => {};

  constructor(
    chat: Chat,
    private readonly room: ChatRoom,
    private readonly open: (topic: string) => Promise<Chat>,
    private readonly why: (err: unknown) => string,
    /** Where the chat started: /leave goes back there. */
    readonly firstRoom: string,
  ) {
    this.chat = chat;
    this.here = firstRoom;
  }

  /** On the way away, back, or to another room. */
  get moving(): boolean {
    return this.state === 'moving';
  }

  hold(line: string): void {
    this.held.push(line);
  }

  away(): void {
    if (this.state !== 'here') return this.room.show(this.state === 'away' ? '-- you are away already; /back to return' : '-- one moment');
    this.state = 'moving';
    this.move = this.closeChat().then(() => {
      this.state = 'away';
      this.room.show('-- you are away: nothing is sent or received until /back; messages for you wait on the server');
      this.replayHeld();
    });
  }

  back(): void {
    if (this.state !== 'away') return this.room.show(this.state === 'here' ? '-- you are here already' : '-- one moment');
    this.state = 'moving';
    this.move = this.enter(this.here).then((err) => {
      if (err === undefined) return this.arrived('-- you are back');
      this.state = 'away';
      this.room.show(`-- could not come back: ${this.why(err)}; /back to try again`);
      this.replayHeld();
    });
  }

  /** /join ROOM: the sessions close here and open there; refused there, they open here again. */
  join(topic: string): void {
    if (this.state !== 'here') return this.room.show(this.state === 'away' ? '-- you are away: /back first' : '-- one moment');
    if (topic === this.here) return this.room.show(`-- you are in ${topic} already`);
    this.state = 'moving';
    this.move = this.moveTo(topic);
  }

  /**
   * A task that lines typed meanwhile wait for (the list of /rooms), so that what they show comes after
   * it; while away or moving it just runs.
   */
  wait(task: Promise<void>): void {
    if (this.state !== 'here') return void task;
    this.state = 'moving';
    this.move = task.finally(() => {
      this.state = 'here';
      this.replayHeld();
    });
  }

  /** Leaving: once the moves under way are over (a line taken after one may start another), the sessions sign off. */
  async leave(): Promise<void> {
    for (let m = this.move; ; m = this.move) {
      await m;
      if (m === this.move) break;
    }
    await this.chat?.close();
  }

  private async moveTo(topic: string): Promise<void> {
    const from = this.here;
    await this.closeChat();
    const err = await this.enter(topic);
    if (err === undefined) return this.arrived(`-- you are in ${topic}`);
    this.room.show(`-- could not join ${topic}: ${this.why(err)}`);
    this.dropHeld();
    const again = await this.enter(from);
    if (again === undefined) return this.arrived(`-- you are in ${from}`);
    this.state = 'away';
    this.room.show(`-- could not come back to ${from}: ${this.why(again)}; /back to try again`);
    this.replayHeld();
  }

  private closeChat(): Promise<void> {
    const chat = this.chat!;
    this.chat = undefined;
    this.room.away();
    return chat.close();
  }

  /** Opens the sessions in `topic`: undefined once open, else why not. */
  private async enter(topic: string): Promise<unknown> {
    this.room.back(topic);
    this.room.receipts.restart();
    try {
      this.chat = await this.open(topic);
    } catch (err) {
      return err ?? new Error('no answer');
    }
    this.here = topic;
    this.state = 'here';
    return undefined;
  }

  private arrived(said: string): void {
    this.room.show(said);
    this.replayHeld();
  }

  private replayHeld(): void {
    for (const line of this.held.splice(0)) this.replay(line);
  }

  /** A move that failed: what was typed for the other room is not sent; commands typed meanwhile are taken. */
  private dropHeld(): void {
    const said = (line: string): boolean => !line.startsWith('/') || line.startsWith('//') || line.startsWith('/to ');
    const n = this.held.filter(said).length;
    this.held.splice(0, this.held.length, ...this.held.filter((line) => !said(line)));
    if (n > 0) this.room.show(`-- ${n} line${n === 1 ? '' : 's'} typed meanwhile not sent`);
  }

}

/** One line typed: a message, or a command. */
function onLine(raw: string, presence: Presence, room: ChatRoom, rooms: () => void): void {
  const line = raw.replace(/\r$/, '');
  if (line.trim() === '') return;
  // Typed while the sessions move (away, back, to another room): taken in order once they have.
  if (presence.moving && line !== '/quit' && line !== '/exit') return presence.hold(line);
  if (line === '/away') return presence.away();
  if (line === '/back') return presence.back();
  if (line === '/rooms') return rooms();
  if (line === '/leave') {
    if (presence.here === presence.firstRoom) return room.show(`-- you are in ${presence.here}, where this chat started: /quit leaves the chat`);
    return presence.join(presence.firstRoom);
  }
  if (line === '/join' || line.startsWith('/join ')) {
    const topic = line.slice('/join'.length).trim();
    if (topic === '') return room.show('-- usage: /join ROOM');
    if (!isValidTopic(topic)) return room.show(`-- invalid room '${escapeControls(topic)}': ${TOPIC_RULE}`);
    return presence.join(topic);
  }
  if (line === '/quit' || line === '/exit') return room.quit();
  if (line === '/help') return HELP.forEach((l) => room.show(`-- ${l}`));
  const chat = presence.chat;
  if (!chat) return room.show('-- you are away: /back first (what you type is not sent meanwhile)');
  const send = (text: string, to?: string): void => room.receipts.sent(to, chat.send(text, to));
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
