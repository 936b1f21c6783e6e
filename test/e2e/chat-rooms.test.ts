import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { deadPort, jsonLines, run, sleep, start, startServer, type Running } from './processes.js';

// Chat rooms as people use them: each room shows who is in it, and a direct message reaches its
// recipient whatever room each of the two is in (or waits for them).

const shows = async (who: string, chat: Running, pattern: RegExp, ms = 15_000): Promise<void> => {
  const deadline = performance.now() + ms;
  while (!pattern.test(chat.stdout())) {
    if (chat.proc.exitCode !== null || performance.now() > deadline) throw new Error(`${who} never showed ${pattern}:\n${chat.stdout()}\n${chat.stderr()}`);
    await sleep(20);
  }
};

test('presence per room: each room shows who comes in and leaves it, /who lists its people; a direct message reaches its recipient in another room, and back', async (t) => {
  const server = await startServer();
  const p = ['-p', String(server.port)];
  const chats: Running[] = [];
  t.after(async () => {
    for (const c of chats) c.proc.kill('SIGINT');
    await Promise.all(chats.map((c) => c.done));
    await server.stop();
  });
  const chat = async (name: string, room: string): Promise<Running> => {
    const c = start('run-chat', ['-u', name, '-t', room, ...p]);
    chats.push(c);
    await shows(name, c, new RegExp(`-- connected to .* as ${name}, in ${room.replace('.', '\\.')}`));
    await shows(name, c, /-- (here now|nobody else is here now)/);
    return c;
  };
  const say = (c: Running, line: string): void => void c.proc.stdin!.write(`${line}\n`);

  const ann = await chat('ann', 'chat.ops');
  const bob = await chat('bob', 'chat.dev');
  assert.match(bob.stdout(), /-- nobody else is here now/, 'ann is online, but in another room');
  const cy = await chat('cy', 'chat.ops');
  await shows('cy', cy, /-- here now: ann\n/);
  await shows('ann', ann, /\* cy came in \(here: cy\)\n/);

  say(ann, '/to bob hello from ops');
  await shows('bob', bob, /ann \(direct to bob\): hello from ops\n/);
  await shows('ann', ann, /-- delivered to bob\n/);
  say(bob, '/to ann hello from dev');
  await shows('ann', ann, /bob \(direct to ann\): hello from dev\n/);
  say(ann, 'ops only');
  await shows('cy', cy, /ann: ops only\n/);

  say(bob, '/who');
  await shows('bob', bob, /^bob +online +last seen/m);
  say(cy, '/join chat.dev');
  await shows('cy', cy, /-- you are in chat\.dev\n/);
  await shows('ann', ann, /\* cy left \(nobody else here\)\n/);
  await shows('bob', bob, /\* cy came in \(here: cy\)\n/);
  say(ann, '/who');
  await shows('ann', ann, /^ann +online +last seen/m);
  assert.doesNotMatch(ann.stdout(), /^(cy|bob) +(online|offline) +last seen/m, "cy is chat.dev's now, and bob never was chat.ops'");

  // Away, a direct message waits for its recipient, who is then in another room.
  say(cy, '/away');
  await shows('cy', cy, /-- you are away/);
  say(ann, '/to cy while you were away');
  await shows('ann', ann, /-- stored; cy is offline: it is kept for cy until cy is back\n/);
  say(cy, '/back');
  await shows('cy', cy, /-- you have 1 message\n.* ann \(direct to cy\): while you were away\n/);
  await shows('ann', ann, /-- delivered to cy\n/);

  const dev = bob.stdout();
  assert.doesNotMatch(dev, /ops only|ann came in|ann left/, 'nothing of chat.ops reached chat.dev');
  assert.doesNotMatch(dev, /^(ann|cy) .*last seen/m, "bob's /who lists chat.dev's people only");
  assert.doesNotMatch(ann.stdout(), /bob came in|bob left/, 'nor of chat.dev in chat.ops');

  const who = jsonLines((await run('run-reader', ['-u', 'looker', '--who', '--format', 'json', ...p])).stdout);
  const where = Object.fromEntries(who.filter((e) => e['role'] === 'reader').map((e) => [e['name'], [e['online'], e['topic']]]));
  assert.deepEqual(where, { ann: [true, 'chat.ops'], bob: [true, 'chat.dev'], cy: [true, 'chat.dev'] }, '--who says where each is; the direct-message sessions are not listed');
});

test("a direct message to one who has never chatted is kept for their first chat, whatever room it opens in; a second chat does not show it again", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const p = ['-p', String(server.port)];
  const sent = await run('run-chat', ['-u', 'fay', '-t', 'chat.ops', ...p], '/to gus welcome aboard\n');
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stdout, /-- stored; gus has not chatted here yet: it is kept for gus's first chat\n/);
  // A chat left open, as a person's is: what waited is shown once it has come.
  const first = start('run-chat', ['-u', 'gus', '-t', 'chat.dev', ...p]);
  await shows('gus', first, /-- you have 1 message\n.* fay \(direct to gus\): welcome aboard\n/);
  first.proc.stdin!.end('/quit\n');
  assert.equal((await first.done).code, 0, first.stderr());
  const second = start('run-chat', ['-u', 'gus', ...p]);
  await shows('gus', second, /-- nobody else is here now\n/);
  // Long enough for its direct reader to have read chat.direct to the end (the first read goes out at once).
  await sleep(1_500);
  second.proc.stdin!.end('/quit\n');
  await second.done;
  assert.doesNotMatch(second.stdout(), /welcome aboard/);
});

test('a user without the right to chat.direct still chats: direct messages go out in the room, said once', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'relay-chat-rights-'));
  const hash = async (name: string, secret: string): Promise<string> => {
    const r = await run('run-server', ['--hash-secret', name], `${secret}\n`);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Record<string, string>)[name]!;
  };
  const users = join(root, 'users.json');
  writeFileSync(users, JSON.stringify({ dee: { secret: await hash('dee', 'dee-secret'), read: ['main'], write: ['main'] }, eve: await hash('eve', 'eve-secret') }));
  chmodSync(users, 0o600);
  const server = await startServer(['--users', users]);
  t.after(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const p = ['-p', String(server.port)];
  const out = await run('run-chat', ['-u', 'dee', ...p], '/to eve hi\n', { RELAY_SECRET: 'dee-secret' });
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /-- direct messages reach people in this room only: dee may (not|only) .*chat\.direct/);
  assert.equal(out.stdout.match(/direct messages reach/g)?.length, 1, 'said once');
  assert.match(out.stdout, /-- stored; nobody called eve has read here/);
  const kept = await run('run-reader', ['-u', 'eve', '--from', 'earliest', '--once', '--format', 'json', ...p], '', { RELAY_SECRET: 'eve-secret' });
  assert.deepEqual(jsonLines(kept.stdout).map((m) => [m['from'], m['to'], m['text']]), [['dee', 'eve', 'hi']], 'in the room it was written in');
});

test('a chat at a server that never answers says so in one line, exit 3, whichever of its sessions gives up first', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await run('run-chat', ['-u', 'hal', '-p', String(await deadPort()), '--timeout', '1'], 'hello?\n');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^run-chat: 127\.0\.0\.1:\d+: no answer\n$/);
  }
});
