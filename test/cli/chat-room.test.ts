import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatRoom } from '../../src/cli/chat-room.js';

// What the chat shows of the room, without a terminal: the table on joining, who is online as people
// come and go, and what waited for the person, counted, when they come (back).

const T = Date.UTC(2026, 0, 1, 12, 0);
const entry = (name: string, online = true) => ({ name, role: 'reader' as const, online, lastSeen: T, topic: 'main' });
const text = (from: string, t: string, to?: string) => ({ id: 1, ts: T, from, ...(to !== undefined && { to }), text: Buffer.from(t) });

function room(me = 'me', here = 'main'): { room: ChatRoom; lines: string[] } {
  const lines: string[] = [];
  const r = new ChatRoom(me, '127.0.0.1:12345', () => {}, here);
  r.showOn((l) => lines.push(l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, '')));
  return { room: r, lines };
}

test('on joining: who else is in the room, once; then each coming in and leaving with who is here then', () => {
  const { room: r, lines } = room();
  r.registry([entry('me'), entry('bob'), entry('al'), entry('gone', false)]);
  r.registry([entry('me'), entry('bob')]);
  assert.deepEqual(lines, ['-- here now: al, bob'], 'once: later registries are answers to /who');
  r.presence([entry('cy')]);
  r.presence([entry('bob', false), entry('al', false)]);
  r.presence([entry('cy', false)]);
  assert.deepEqual(lines.slice(1), [
    '* cy came in (here: al, bob, cy)',
    '* bob left (here: al, cy)',
    '* al left (here: cy)',
    '* cy left (nobody else here)',
  ]);
});

test('alone on joining; a long list names eight, then how many more', () => {
  const { room: r, lines } = room();
  r.registry([entry('me')]);
  r.presence('abcdefghij'.split('').map((c) => entry(c)));
  assert.equal(lines[0], '-- nobody else is here now');
  assert.equal(lines.at(-1), '* j came in (here: a, b, c, d, e, f, g, h and 2 more)');
});

test('what waited is held until all has come, then counted and shown; my own broadcasts are not counted', () => {
  const { room: r, lines } = room();
  r.message(text('bob', 'one'));
  r.message(text('me', 'mine, on screen already'));
  r.message(text('bob', 'two', 'me'));
  assert.deepEqual(lines, [], 'held');
  r.caughtUp();
  assert.deepEqual(lines, ['-- you have 2 messages', 'bob: one', 'bob (direct to me): two']);
  r.message(text('bob', 'three'));
  r.caughtUp();
  assert.equal(lines.at(-1), 'bob: three', 'after that, shown as they come');
  assert.equal(lines.join('\n').match(/-- you have/g)?.length, 1);
});

test('/away, then /back: the table again, and what waited counted (one message: singular; none: nothing said)', () => {
  const { room: r, lines } = room();
  r.registry([entry('me'), entry('bob')]);
  r.caughtUp();
  r.away();
  r.back();
  r.registry([entry('me')]);
  r.message(text('bob', 'while away', 'me'));
  r.caughtUp();
  assert.deepEqual(lines, ['-- here now: bob', '-- nobody else is here now', '-- you have 1 message', 'bob (direct to me): while away']);
  r.away();
  r.back();
  r.caughtUp();
  assert.equal(lines.length, 4, 'nothing waited: nothing said');
});

test('a backlog too long to hold is said so, and shown as it comes', () => {
  const { room: r, lines } = room();
  for (let i = 0; i < 1_500; i++) r.message(text('bob', `m${i}`));
  assert.equal(lines[0], '-- more than 1,000 messages waited for you');
  assert.equal(lines[1_000], 'bob: m999');
  assert.equal(lines.length, 1_501, 'the thousand held, then the rest as they come');
  r.caughtUp();
  assert.equal(lines.length, 1_501, 'and nothing more said');
});

test('presence per room: only who is here is shown; one who moves to another room, or is online elsewhere, has left; /who lists who is or was last here', () => {
  const { room: r, lines } = room('me', 'chat.ops');
  const at = (name: string, topic: string, online = true) => ({ ...entry(name, online), topic });
  r.registry([at('me', 'chat.ops'), at('al', 'chat.ops'), at('bob', 'chat.dev'), at('cy', 'chat.ops', false)]);
  assert.deepEqual(lines, ['-- here now: al']);
  r.presence([at('bob', 'chat.ops')]);
  r.presence([at('al', 'chat.dev')]);
  r.presence([at('dee', 'chat.dev'), at('dee', 'chat.dev', false)]);
  r.presence([at('bob', 'chat.ops', false)]);
  assert.deepEqual(lines.slice(1), ['* bob came in (here: al, bob)', '* al left (here: bob)', '* bob left (nobody else here)'], 'nothing of dee, never here');
  r.askedWho();
  r.registry([at('me', 'chat.ops'), at('al', 'chat.dev'), at('bob', 'chat.ops', false), at('dee', 'chat.dev')]);
  assert.deepEqual(lines.slice(4).map((l) => l.replace(/ +last seen .*/, '')), ['me    online', 'bob   offline']);
  r.away();
  r.back('chat.dev');
  r.registry([at('me', 'chat.dev'), at('al', 'chat.dev'), at('dee', 'chat.dev')]);
  assert.equal(lines.at(-1), '-- here now: al, dee', 'in another room: its people');
});
