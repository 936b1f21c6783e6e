import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { jsonLines, run, sleep, start, startServer, type Running, type Server } from './processes.js';

// A reader of several topics: a list or a pattern (NATS syntax), topics created after it started, the
// topic of each message in its output, and its place in each topic kept apart.

const root = mkdtempSync(join(tmpdir(), 'relay-patterns-'));
after(() => rmSync(root, { recursive: true, force: true }));

const tagged = (tag: string, from: number, to: number): string => {
  let s = '';
  for (let i = from; i <= to; i++) s += `${tag} ${i}\n`;
  return s;
};

/** Waits (at most `ms`) until `r` has printed `n` lines. */
async function untilPrinted(r: Running, n: number, ms = 20_000): Promise<string[]> {
  const deadline = performance.now() + ms;
  for (;;) {
    const lines = r.stdout().split('\n').filter(Boolean);
    if (lines.length >= n) return lines;
    if (r.proc.exitCode !== null || performance.now() > deadline) throw new Error(`printed ${lines.length} of ${n} lines\n${r.stderr()}`);
    await sleep(50);
  }
}

/** The numbers of `tag`'s lines among `texts`, in the order printed. */
const numbersOf = (texts: string[], tag: string): number[] => texts.filter((t) => t.startsWith(`${tag} `)).map((t) => Number(t.slice(tag.length + 1)));
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test("a reader of 'logs.>' gets both log streams and no chat, each line once and in order, a topic created after it started from its first line; its place in each topic survives kill -9 of the server", async (t) => {
  const dir = join(root, 'data');
  const sqlite = (): Promise<Server> => startServer(['--store', 'sqlite', '--data-dir', dir]);
  let server = await sqlite();
  t.after(() => server.stop());
  const p = (): string[] => ['-p', String(server.port)];
  assert.equal((await run('run-writer', ['-u', 'web1', '-t', 'logs.web', ...p()], tagged('web', 1, 500))).code, 0);

  const reader = start('run-reader', ['-u', 'ops', '-t', 'logs.>', '--from', 'earliest', '--format', 'json', ...p()]);
  t.after(() => reader.proc.kill('SIGKILL'));
  await untilPrinted(reader, 500);
  // logs.db does not exist yet: created now, it is found and read from its first line.
  const writes = await Promise.all([
    run('run-writer', ['-u', 'db1', '-t', 'logs.db', ...p()], tagged('db', 1, 300)),
    run('run-writer', ['-u', 'web1', '-t', 'logs.web', ...p()], tagged('web', 501, 800)),
    run('run-chat', ['-u', 'carol', '-t', 'chat.ops', ...p()], 'deploying now\n'),
    run('run-writer', ['-u', 'plain', ...p()], 'on the default topic\n'),
  ]);
  for (const w of writes) assert.equal(w.code, 0, w.stderr);
  await untilPrinted(reader, 1100);
  await sleep(1_500); // nothing else comes: not the chat, not the default topic
  reader.proc.kill('SIGTERM');
  const done = await reader.done;
  assert.equal(done.code, 0, done.stderr);
  const got = jsonLines(done.stdout);
  assert.equal(got.length, 1100);
  const texts = got.map((m) => m['text'] as string);
  assert.deepEqual(numbersOf(texts, 'web'), range(1, 800), 'logs.web once, in order');
  assert.deepEqual(numbersOf(texts, 'db'), range(1, 300), 'logs.db once, in order, from its first line');
  assert.ok(got.every((m) => m['topic'] === (String(m['text']).startsWith('web') ? 'logs.web' : 'logs.db')), 'each message names its topic');

  server.proc.kill('SIGKILL');
  await server.done;
  server = await sqlite();
  for (const w of await Promise.all([
    run('run-writer', ['-u', 'db1', '-t', 'logs.db', ...p()], tagged('db', 301, 400)),
    run('run-writer', ['-u', 'web1', '-t', 'logs.web', ...p()], tagged('web', 801, 900)),
  ])) {
    assert.equal(w.code, 0, w.stderr);
  }
  // ops goes on where it stood in each topic: what came since, once.
  const rest = await run('run-reader', ['-u', 'ops', '-t', 'logs.>', '--once', '--format', 'raw', ...p()]);
  assert.equal(rest.code, 0, rest.stderr);
  const restTexts = rest.stdout.split('\n').filter(Boolean);
  assert.deepEqual([numbersOf(restTexts, 'web'), numbersOf(restTexts, 'db'), restTexts.length], [range(801, 900), range(301, 400), 200]);
  assert.equal((await run('run-reader', ['-u', 'ops', '-t', 'logs.>', '--once', ...p()])).code, 6, 'nothing new: "no messages", exit 6');

  // A list names topics as they are; text shows each message's topic in a column after the time.
  const listed = await run('run-reader', ['-u', 'eve', '-t', 'chat.ops,logs.db', '--from', 'earliest', '--once', ...p()]);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 401);
  assert.ok(lines.every((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (chat\.ops carol: deploying now|logs\.db db1: db \d+)$/.test(l)), lines.slice(0, 3).join('\n'));
});

test('a pattern with no topic yet reads nothing and says "no messages" with --once (exit 6); bad uses with several topics are one line and exit 2', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const p = ['-p', String(server.port)];
  const none = await run('run-reader', ['-u', 'x', '-t', 'nothing.*', '--once', ...p]);
  assert.equal(none.code, 6, none.stderr);
  assert.match(none.stderr, /no messages/);
  const who = await run('run-reader', ['-u', 'x', '-t', 'logs.>', '--who', ...p]);
  assert.equal(who.code, 0, `--who reads no topic, whatever --topic says: ${who.stderr}`);
  for (const [args, said] of [
    [['-t', 'a,b', '--presence'], /--presence reads one topic/],
    [['-t', 'logs.>.web'], /invalid --topic 'logs\.>\.web': segments of letters.*or a topic in which a segment may be '\*'/],
    [['-t', 'logs.web,'], /invalid --topic '': /],
  ] as const) {
    const r = await run('run-reader', ['-u', 'x', ...args, ...p]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, said);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('rights per topic: bob, allowed to read logs.> and to write nothing, cannot write there nor read chat.ops (one line, exit 4); his patterns and --topics see only what he may read', async (t) => {
  const hash = async (name: string, secret: string): Promise<string> => {
    const r = await run('run-server', ['--hash-secret', name], `${secret}\n`);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Record<string, string>)[name]!;
  };
  const users = join(root, 'users.json');
  writeFileSync(users, JSON.stringify({ alice: await hash('alice', 'alice-secret'), bob: { secret: await hash('bob', 'bob-secret'), read: ['logs.>'], write: [] } }));
  chmodSync(users, 0o600);
  const server = await startServer(['--users', users]);
  t.after(() => server.stop());
  const p = ['-p', String(server.port)];
  const alice = { RELAY_SECRET: 'alice-secret' };
  const bob = { RELAY_SECRET: 'bob-secret' };
  for (const [topic, text] of [['logs.web', 'GET /\n'], ['chat.ops', 'deploying now\n']]) {
    const w = await run('run-writer', ['-u', 'alice', '-t', topic!, ...p], text, alice);
    assert.equal(w.code, 0, `alice writes anywhere: ${w.stderr}`);
  }
  for (const [cmd, args, said] of [
    ['run-writer', ['-t', 'logs.web'], 'bob may not write to logs.web on this server'],
    ['run-reader', ['-t', 'chat.ops', '--once'], 'bob may not read chat.ops on this server'],
    ['run-reader', ['--once'], 'bob may not read main on this server'],
  ] as const) {
    const r = await run(cmd, ['-u', 'bob', ...args, ...p], 'x\n', bob);
    assert.equal(r.code, 4, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(said));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const logs = await run('run-reader', ['-u', 'bob', '-t', '>', '--from', 'earliest', '--once', '--format', 'raw', ...p], '', bob);
  assert.equal(logs.code, 0, logs.stderr);
  assert.equal(logs.stdout, 'GET /\n', "'>' is every topic bob may read: the logs, not the chat");
  const listed = await run('run-reader', ['-u', 'bob', '--topics', '--format', 'json', ...p], '', bob);
  assert.deepEqual(jsonLines(listed.stdout).map((x) => x['topic']), ['logs.web']);
  const all = await run('run-reader', ['-u', 'alice', '--topics', '--format', 'json', ...p], '', alice);
  assert.deepEqual(jsonLines(all.stdout).map((x) => x['topic']), ['chat.ops', 'logs.web', 'main']);
});

test('--count over several topics: N messages from all of them together, and the next run goes on from there in each topic, nothing twice, nothing skipped', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const p = ['-p', String(server.port)];
  for (const [topic, tag] of [['jobs.a', 'a'], ['jobs.b', 'b'], ['jobs.c', 'c']] as const) {
    assert.equal((await run('run-writer', ['-u', `w${tag}`, '-t', topic, ...p], tagged(tag, 1, 40))).code, 0);
  }
  const texts: string[] = [];
  for (const count of [25, 50, 45]) {
    const r = await run('run-reader', ['-u', 'worker', '-t', 'jobs.*', '--from', 'earliest', '--format', 'json', '--count', String(count), ...p]);
    assert.equal(r.code, 0, r.stderr);
    const got = jsonLines(r.stdout);
    assert.equal(got.length, count, `--count ${count}`);
    texts.push(...got.map((m) => m['text'] as string));
  }
  for (const tag of ['a', 'b', 'c']) assert.deepEqual(numbersOf(texts, tag), range(1, 40), `every line of ${tag} once, in order`);
  const more = await run('run-reader', ['-u', 'worker', '-t', 'jobs.*', '--once', ...p]);
  assert.equal(more.code, 6, `all 120 were taken: ${more.stdout}`);
});
