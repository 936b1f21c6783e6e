import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { jsonLines, run, startServer, type Server } from './processes.js';

const root = mkdtempSync(join(tmpdir(), 'relay-topics-'));
after(() => rmSync(root, { recursive: true, force: true }));

const tagged = (tag: string, from: number, to: number): string => {
  let s = '';
  for (let i = from; i <= to; i++) s += `${tag} ${i}\n`;
  return s;
};

test('two log streams and a chat room on one server: each reader gets its topic only, each line once and in order, and the positions per topic survive kill -9', async () => {
  const dir = join(root, 'data');
  const sqlite = (): Promise<Server> => startServer(['--store', 'sqlite', '--data-dir', dir]);
  let server = await sqlite();
  const p = (): string[] => ['-p', String(server.port)];
  const writes = await Promise.all([
    run('run-writer', ['-u', 'web1', '--topic', 'logs.web', ...p()], tagged('web', 1, 3000)),
    run('run-writer', ['-u', 'db1', '-t', 'logs.db', ...p()], tagged('db', 1, 2000)),
    run('run-chat', ['-u', 'carol', '--topic', 'chat.ops', ...p()], 'deploying now\n'),
    run('run-writer', ['-u', 'plain', ...p()], tagged('main', 1, 10)),
  ]);
  for (const w of writes) assert.equal(w.code, 0, w.stderr);

  // Part of each log stream, as JSON: each message names its topic, ids count from 1 in each topic.
  const web = await run('run-reader', ['-u', 'ops', '--topic', 'logs.web', '--from', 'earliest', '--count', '1000', '--format', 'json', ...p()]);
  assert.equal(web.code, 0, web.stderr);
  const webMsgs = jsonLines(web.stdout);
  assert.deepEqual(webMsgs.map((m) => m['text']), tagged('web', 1, 1000).split('\n').slice(0, -1));
  assert.deepEqual([webMsgs[0]!['id'], webMsgs[999]!['id'], webMsgs[0]!['topic']], [1, 1000, 'logs.web']);
  const db = await run('run-reader', ['-u', 'ops', '--topic', 'logs.db', '--from', 'earliest', '--count', '500', '--format', 'raw', ...p()]);
  assert.equal(db.stdout, tagged('db', 1, 500));
  // The room holds what was said in it, and no log line; the default topic holds the writer that named none.
  const room = await run('run-reader', ['-u', 'dave', '--topic', 'chat.ops', '--from', 'earliest', '--once', '--format', 'raw', ...p()]);
  assert.equal(room.stdout, 'deploying now\n');
  const main = await run('run-reader', ['-u', 'dave', '--from', 'earliest', '--once', '--format', 'raw', ...p()]);
  assert.equal(main.stdout, tagged('main', 1, 10));

  server.proc.kill('SIGKILL');
  await server.done;
  server = await sqlite();
  assert.ok(existsSync(join(dir, 'topics', 'logs.web', 'relay.db')), 'each topic a database of its own under the data directory');
  // ops goes on where it stood in each topic: the rest of each stream, once.
  const webRest = await run('run-reader', ['-u', 'ops', '--topic', 'logs.web', '--once', '--format', 'raw', ...p()]);
  assert.equal(webRest.stdout, tagged('web', 1001, 3000));
  const dbRest = await run('run-reader', ['-u', 'ops', '--topic', 'logs.db', '--once', '--format', 'raw', ...p()]);
  assert.equal(dbRest.stdout, tagged('db', 501, 2000));

  // What is there: every topic the data directory keeps, with its extent, by name.
  const listed = await run('run-reader', ['-u', 'ops', '--topics', '--format', 'json', ...p()]);
  assert.equal(listed.code, 0, listed.stderr);
  const topics = jsonLines(listed.stdout);
  assert.deepEqual(topics.map((t) => [t['topic'], t['messages'], t['firstId'], t['lastId']]), [
    ['chat.direct', 0, 1, 0], // where the chat's direct messages wait
    ['chat.ops', 1, 1, 1],
    ['logs.db', 2000, 1, 2000],
    ['logs.web', 3000, 1, 3000],
    ['main', 10, 1, 10],
  ]);
  assert.ok(Math.abs(Date.parse(topics[1]!['lastWrite'] as string) - Date.now()) < 120_000, 'written lately');
  const table = await run('run-reader', ['-u', 'ops', '--topics', ...p()]);
  assert.match(table.stdout, /^TOPIC +MESSAGES +BYTES +IDS +LAST WRITE\nchat\.direct +0 +0 +- +-\nchat\.ops +1 +13 +1-1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n/);
  assert.equal(table.stdout.split('\n').length, 7);
  await server.stop();
});

test('a topic name that breaks the rules is one line and exit 2, before anything is sent', async () => {
  for (const [cmd, topic] of [['run-writer', 'logs.*'], ['run-reader', 'logs..web'], ['run-chat', 'a b']] as const) {
    const r = await run(cmd, ['-u', 'x', '--topic', topic, '-p', '9']);
    assert.equal(r.code, 2, `${cmd} --topic '${topic}': ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`invalid --topic '${topic.replace('*', '\\*')}': segments of letters`));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('--max-topics: a client naming one topic more is refused with one line, exit 4; the topics served go on', async () => {
  const server = await startServer(['--max-topics', '2']);
  const p = ['-p', String(server.port)];
  assert.equal((await run('run-writer', ['-u', 'a', '--topic', 'logs.a', ...p], 'one\n')).code, 0);
  const refused = await run('run-writer', ['-u', 'b', '--topic', 'logs.b', ...p], 'two\n');
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /at most 2 topics: logs\.b is one more/);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.equal((await run('run-reader', ['-u', 'r', '--topic', 'logs.a', '--from', 'earliest', '--once', '--format', 'raw', ...p])).stdout, 'one\n');
  assert.equal((await run('run-writer', ['-u', 'c', ...p], 'main\n')).code, 0, 'the default topic is one of the two');
  await server.stop();
});

test('--topics goes alone: with --topic, --who, --once or raw it is a usage error', async () => {
  for (const extra of [['--topic', 'a'], ['--who'], ['--once'], ['--format', 'raw']]) {
    const r = await run('run-reader', ['-u', 'x', '--topics', ...extra, '-p', '9']);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--topics prints the topics and exits/);
  }
});

test("--retain: the topics a pattern names keep what their rule says, the others what the server's options say; a bad rule is one line, exit 2", async (t) => {
  const server = await startServer(['--store', 'sqlite', '--data-dir', join(root, 'retain'), '--retain', 'logs.>:messages=5', '--retain-messages', '8']);
  t.after(() => server.stop());
  const p = ['-p', String(server.port)];
  for (const topic of ['logs.web', 'chat.ops']) {
    const w = await run('run-writer', ['-u', 'w', '-t', topic, ...p], tagged(topic, 1, 20));
    assert.equal(w.code, 0, w.stderr);
  }
  const listed = jsonLines((await run('run-reader', ['-u', 'x', '--topics', '--format', 'json', ...p])).stdout);
  assert.deepEqual(listed.map((x) => [x['topic'], x['messages'], x['firstId']]), [['chat.ops', 8, 13], ['logs.web', 5, 16], ['main', 0, 1]]);
  const logs = await run('run-reader', ['-u', 'r', '-t', 'logs.web', '--from', 'earliest', '--once', '--format', 'raw', ...p]);
  assert.equal(logs.stdout, tagged('logs.web', 16, 20));

  const bad = await run('run-server', ['--port', '0', '--retain', 'logs.>']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /invalid --retain 'logs\.>': expected PATTERN:LIMIT/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});

test('chat rooms: /join talks in another room (lines typed meanwhile go there), /rooms lists them, /leave goes back; a room the server refuses leaves the chat where it was', async (t) => {
  const server = await startServer(['--max-topics', '4']);
  t.after(() => server.stop());
  const p = ['-p', String(server.port)];
  const chat = await run('run-chat', ['-u', 'carol', '-t', 'chat.ops', ...p], 'in ops\n/join chat.dev\nin dev\n/rooms\n/leave\nback in ops\n/join chat.x\nstill in ops?\n/join bad..name\n/leave\n');
  assert.equal(chat.code, 0, chat.stderr);
  const out = chat.stdout;
  assert.match(out, /connected to .* as carol, in chat\.ops/);
  assert.match(out, /-- you are in chat\.dev\n/);
  assert.match(out, /-- TOPIC +MESSAGES +BYTES +IDS +LAST WRITE\n-- chat\.dev +1 +6 +1-1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n-- chat\.ops +1 +6 +1-1 .*\n-- main +0 +0 +- +-\n-- you are in chat\.dev\n/);
  assert.match(out, /-- you are in chat\.ops\n/);
  // One topic more than the server serves (main, chat.direct, chat.ops, chat.dev): refused there, the chat goes back, and what was typed for there is not sent.
  assert.match(out, /-- could not join chat\.x: .*serves at most 4 topics: chat\.x is one more\n-- 1 line typed meanwhile not sent\n(-- nobody else is here now\n)?-- you are in chat\.ops\n/);
  assert.match(out, /-- invalid room 'bad\.\.name': segments of letters/);
  assert.match(out, /-- you are in chat\.ops, where this chat started: \/quit leaves the chat/);
  const read = async (topic: string): Promise<string> => (await run('run-reader', ['-u', 'dave', '-t', topic, '--from', 'earliest', '--once', '--format', 'raw', ...p])).stdout;
  assert.equal(await read('chat.ops'), 'in ops\nback in ops\n');
  assert.equal(await read('chat.dev'), 'in dev\n');
});
