import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jsonLines, lines, run, sleep, start, startReader, startServer, waitFor, type Running, type Server, overTransport } from './processes.js';

const root = mkdtempSync(join(tmpdir(), 'relay-seed-'));

describe(`one-shot receive and files as messages (as in the queue seed)${overTransport()}`, () => {
  let server: Server;
  let p: string[];
  before(async () => {
    server = await startServer();
    p = ['--port', String(server.port)];
  });
  after(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('--once on an empty stream says "no messages" and exits 6; then prints what arrived, once', async () => {
    const empty = await run('run-reader', ['-u', 'cron', ...p, '--once']);
    assert.equal(empty.code, 6);
    assert.match(empty.stderr, /run-reader: no messages\n$/);
    await run('run-writer', ['-u', 'job', ...p], 'a\nb\nc\n');
    const got = await run('run-reader', ['-u', 'cron', ...p, '--once', '--format', 'raw']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'a\nb\nc\n');
    const again = await run('run-reader', ['-u', 'cron', ...p, '--once']);
    assert.equal(again.code, 6, 'nothing new since');
  });

  test('--file sends a 5 KB file with newlines as one message, byte for byte; an empty file is an empty message', async () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i} ${'x'.repeat(40)}\r\n`).join('') + 'no newline at the end';
    assert.ok(text.length > 5000);
    writeFileSync(join(root, 'report.txt'), text);
    writeFileSync(join(root, 'empty.txt'), '');
    for (const f of ['report.txt', 'empty.txt']) {
      const w = await run('run-writer', ['-u', 'filer', ...p, '--file', join(root, f)]);
      assert.equal(w.code, 0, w.stderr);
    }
    const r = await run('run-reader', ['-u', 'files-r', ...p, '--from', 'earliest', '--format', 'json', '--once']);
    const mine = jsonLines(r.stdout).filter((m) => m['from'] === 'filer');
    assert.deepEqual(mine.map((m) => m['text']), [text, '']);
  });

  test('--file that does not exist is one line and exit 2', async () => {
    const w = await run('run-writer', ['-u', 'filer', ...p, '--file', join(root, 'missing.txt')]);
    assert.equal(w.code, 2);
    assert.equal(w.stderr.trim().split('\n').length, 1);
    assert.match(w.stderr, /cannot read --file/);
  });
});

describe(`presence and queue groups (as in the chat and queue seeds)${overTransport()}`, () => {
  let server: Server;
  let p: string[];
  before(async () => {
    server = await startServer(['--session-timeout', '3']);
    p = ['--port', String(server.port)];
  });
  after(async () => {
    await server.stop();
  });

  test('offline delivery: bob away, alice --to bob twice; carol gets neither; bob, back later, gets both with their original times', async () => {
    for (const u of ['bob', 'carol']) assert.equal((await run('run-reader', ['-u', u, ...p, '--once'])).code, 6);
    const sentAt = Date.now();
    const w = await run('run-writer', ['-u', 'alice', ...p, '--to', 'bob'], 'are you there?\nsee you tomorrow\n');
    assert.equal(w.code, 0, w.stderr);
    await sleep(1_200);
    const carol = await run('run-reader', ['-u', 'carol', ...p, '--once']);
    assert.equal(carol.code, 6, carol.stdout);
    const back = Date.now();
    const bob = await run('run-reader', ['-u', 'bob', ...p, '--once', '--format', 'json']);
    assert.equal(bob.code, 0, bob.stderr);
    const msgs = jsonLines(bob.stdout);
    assert.deepEqual(msgs.map((m) => [m['from'], m['to'], m['text']]), [
      ['alice', 'bob', 'are you there?'],
      ['alice', 'bob', 'see you tomorrow'],
    ]);
    for (const m of msgs) {
      const ts = Date.parse(m['ts'] as string);
      assert.ok(ts >= sentAt - 1000 && ts < back - 1000, 'the time it was sent, not read');
    }
    await run('run-writer', ['-u', 'alice', ...p, '--to', 'bob'], 'in text\n');
    const text = await run('run-reader', ['-u', 'bob', ...p, '--once']);
    assert.match(text.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d alice \(direct to bob\): in text\n$/, 'that one line, once');
  });

  test('--who lists a live writer as online and a departed reader as offline, with last-seen times', async () => {
    const writer = start('run-writer', ['-u', 'livewriter', ...p, '--log-level', 'info']);
    await waitFor(writer, /registered as livewriter/);
    const gone = await run('run-reader', ['-u', 'departed', ...p, '--once']);
    assert.equal(gone.code, 6);
    const who = await run('run-reader', ['-u', 'asker', ...p, '--who', '--format', 'json']);
    assert.equal(who.code, 0, who.stderr);
    const entries = jsonLines(who.stdout);
    const of = (name: string) => entries.find((e) => e['name'] === name);
    assert.deepEqual({ ...of('livewriter'), lastSeen: undefined }, { name: 'livewriter', role: 'writer', online: true, lastSeen: undefined, topic: 'main' });
    assert.deepEqual({ ...of('departed'), lastSeen: undefined }, { name: 'departed', role: 'reader', online: false, lastSeen: undefined, topic: 'main' });
    for (const e of entries) assert.ok(Math.abs(Date.parse(e['lastSeen'] as string) - Date.now()) < 60_000);
    assert.equal(of('asker'), undefined, '--who itself is not registered');
    const text = await run('run-reader', ['-u', 'asker', ...p, '--who']);
    assert.match(text.stdout, /^livewriter\s+writer\s+online\s+last seen \d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}in main$/m);
    assert.match(text.stdout, /^departed\s+reader\s+offline\s+last seen /m);
    writer.proc.stdin!.end();
    assert.equal((await writer.done).code, 0);
  });

  test('--presence prints others coming online and going offline, as text and as json events', async () => {
    const watcher = await startReader(['-u', 'watcher', ...p, '--presence', '--format', 'json']);
    const w = await run('run-writer', ['-u', 'visitor', ...p], 'hi\n');
    assert.equal(w.code, 0, w.stderr);
    const deadline = Date.now() + 10_000;
    while (jsonLines(watcher.stdout()).filter((e) => e['event'] !== undefined).length < 2 && Date.now() < deadline) await sleep(50);
    const events = jsonLines(watcher.stdout()).filter((e) => e['event'] !== undefined);
    assert.deepEqual(events.map((e) => [e['event'], e['name'], e['role']]), [['online', 'visitor', 'writer'], ['offline', 'visitor', 'writer']]);
    assert.ok(jsonLines(watcher.stdout()).some((m) => m['text'] === 'hi'), 'messages still arrive');
    watcher.proc.kill('SIGINT');
    await watcher.done;
  });

  test('three readers in --group g share 3,000 messages: exactly the 3,000, each member some, each in log order', async () => {
    const members = await Promise.all(['g1', 'g2', 'g3'].map((u) => startReader(['-u', u, ...p, '--group', 'g', '--format', 'json'])));
    const other = await startReader(['-u', 'bystander', ...p, '--format', 'raw', '--count', '3000']);
    const w = await run('run-writer', ['-u', 'producer', ...p], lines(1, 3000));
    assert.equal(w.code, 0, w.stderr);
    await collect(members, 3000);
    // A redelivery would come after the 3,000 were first seen: give it time, then count what was printed.
    await sleep(1_500);
    for (const m of members) m.proc.kill('SIGINT');
    await Promise.all(members.map((m) => m.done));
    const got = members.map((m) => jsonLines(m.stdout()).map((x) => x['text'] as string));
    const all = got.flat();
    assert.deepEqual(all.map(Number).sort((a, b) => a - b), Array.from({ length: 3000 }, (_, i) => i + 1), 'each message once');
    for (const [i, mine] of got.entries()) {
      assert.ok(mine.length > 0, `member ${i + 1} got some`);
      assert.deepEqual(mine.map(Number), [...mine.map(Number)].sort((a, b) => a - b), `member ${i + 1} in log order`);
    }
    assert.equal((await other.done).stdout, lines(1, 3000), 'a reader outside the group still gets everything');
  });

  test('a member killed with kill -9 midway: after the session timeout the others cover all 3,000', async () => {
    const members = await Promise.all(['k1', 'k2', 'k3'].map((u) => startReader(['-u', u, ...p, '--group', 'k', '--format', 'json'])));
    const writer = start('run-writer', ['-u', 'producer2', ...p]);
    writer.proc.stdin!.write(lines(1, 1500));
    const deadline = Date.now() + 15_000;
    while (jsonLines(members[0]!.stdout()).length === 0) {
      assert.ok(Date.now() < deadline, 'the first member never printed');
      await sleep(20);
    }
    members[0]!.proc.kill('SIGKILL');
    writer.proc.stdin!.end(lines(1501, 3000));
    assert.equal((await writer.done).code, 0);
    const survivors = members.slice(1);
    const got = await collect(survivors, 3000, () => jsonLines(members[0]!.stdout()).map((m) => m['text'] as string));
    for (const m of survivors) m.proc.kill('SIGINT');
    await Promise.all(members.map((m) => m.done));
    const covered = new Set([...got.flat(), ...jsonLines(members[0]!.stdout()).map((m) => m['text'] as string)]);
    assert.equal(covered.size, 3000);
  });

  test('--group g --count 1 takes exactly one message from the queue; the next member gets the next one', async () => {
    await run('run-writer', ['-u', 'producer3', ...p], 'first\nsecond\nthird\n');
    // The log holds the other tests' messages too: the queue starts at 'first'.
    const log = jsonLines((await run('run-reader', ['-u', 'finder', ...p, '--from', 'earliest', '--once', '--format', 'json'])).stdout);
    const firstId = String(log.find((m) => m['text'] === 'first')!['id']);
    const a = await run('run-reader', ['-u', 'one1', ...p, '--group', 'q1', '--from', firstId, '--count', '1', '--format', 'raw']);
    assert.equal(a.code, 0, a.stderr);
    const b = await run('run-reader', ['-u', 'one2', ...p, '--group', 'q1', '--count', '1', '--format', 'raw']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(a.stdout, 'first\n');
    assert.equal(b.stdout, 'second\n', 'the next one, not the same, not a later one');
  });
});

/** Waits until the members (and `extra`) have printed `total` messages in all; their texts, per member. */
async function collect(members: Running[], total: number, extra: () => string[] = () => []): Promise<string[][]> {
  const deadline = Date.now() + 30_000;
  const texts = (): string[][] => members.map((m) => jsonLines(m.stdout()).map((x) => x['text'] as string));
  while (new Set([...texts().flat(), ...extra()]).size < total && Date.now() < deadline) await sleep(50);
  return texts();
}
