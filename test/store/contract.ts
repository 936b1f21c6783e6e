import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SCAN_MAX } from '../../src/store/read-scan.js';
import { MARKS_PER_WRITER_MAX, type NewMessage, type ProducerMark, type RetentionLimits, type Store } from '../../src/store/store.js';

/**
 * What every store must do. A new store passes this suite unchanged:
 * `storeContract('sqlite', (retention) => open a fresh one)`.
 */
export function storeContract(name: string, fresh: (retention?: RetentionLimits) => Promise<Store>): void {
  const msg = (text: string, extra: Partial<NewMessage> = {}): NewMessage => ({
    ts: 1_800_000_000_000,
    from: 'w',
    text: Buffer.from(text),
    ...extra,
  });
  const all = { maxMessages: 1e6, maxBytes: 1e9, user: 'r' };

  describe(`store contract: ${name}`, () => {
    test('an empty log starts at id 1', async () => {
      const s = await fresh();
      assert.deepEqual(await s.bounds(), { first: 1, next: 1 });
      const r = await s.read(1, all);
      assert.deepEqual(r, { messages: [], next: 1, first: 1, atEnd: true });
      await s.close();
    });

    test('append assigns consecutive ids across batches, in call order, and returns each first id', async () => {
      const s = await fresh();
      const ids = await s.append([
        { producerId: 1n, lastSeq: 3, messages: [msg('a'), msg('b')] },
        { producerId: 2n, lastSeq: 1, messages: [msg('c', { from: 'v' })] },
      ]);
      assert.deepEqual(ids, [1, 3]);
      assert.deepEqual(await s.append([{ producerId: 1n, lastSeq: 4, messages: [msg('d')] }]), [4]);
      const r = await s.read(1, all);
      assert.deepEqual(
        r.messages.map((m) => [m.id, m.from, m.text.toString()]),
        [
          [1, 'w', 'a'],
          [2, 'w', 'b'],
          [3, 'v', 'c'],
          [4, 'w', 'd'],
        ],
      );
      assert.equal(r.next, 5);
      assert.equal(r.atEnd, true);
      await s.close();
    });

    test('keeps bytes exactly: empty texts, binary, timestamps, recipients', async () => {
      const s = await fresh();
      const bin = Buffer.from([0, 255, 10, 13, 27, 0x80]);
      await s.append([
        { producerId: 1n, lastSeq: 1, messages: [msg(''), { ts: 5, from: 'w', text: bin }, msg('dm', { to: 'r' })] },
      ]);
      const [a, b, c] = (await s.read(1, all)).messages;
      assert.equal(a!.text.length, 0);
      assert.ok(b!.text.equals(bin));
      assert.equal(b!.ts, 5);
      assert.equal(c!.to, 'r');
      assert.equal(a!.to, undefined);
      await s.close();
    });

    test('records the last sequence number of each producer with its batch', async () => {
      const s = await fresh();
      assert.equal(await s.producerSeq(9n), undefined);
      await s.append([{ producerId: 9n, lastSeq: 17, messages: [msg('x')] }]);
      assert.equal(await s.producerSeq(9n), 17);
      await s.append([{ producerId: 9n, lastSeq: 18, messages: [] }]);
      assert.equal(await s.producerSeq(9n), 18);
      const big = 2n ** 64n - 1n;
      await s.append([{ producerId: big, lastSeq: 1, messages: [] }]);
      assert.equal(await s.producerSeq(big), 1);
      await s.close();
    });

    test('keeps the file a line was read from, message by message, however they are grouped', async () => {
      const s = await fresh();
      await s.append([
        { producerId: 1n, lastSeq: 1, messages: [msg('a', { file: 'one.log' }), msg('b', { file: 'one.log' }), msg('c'), msg('d', { file: 'two.log', to: 'r' }), msg('e', { file: 'one.log' })] },
      ]);
      const got = (await s.read(1, all)).messages.map((m) => `${m.text.toString()}:${m.file ?? '-'}:${m.to ?? '-'}:${m.from}`);
      assert.deepEqual(got, ['a:one.log:-:w', 'b:one.log:-:w', 'c:-:-:w', 'd:two.log:r:w', 'e:one.log:-:w']);
      await s.close();
    });

    test("keeps each writer's marks with its sequence number: replaced per key, removed by an empty value, bounded", async () => {
      const s = await fresh();
      const mark = (key: string, value: string): ProducerMark => ({ key: Buffer.from(key), value: Buffer.from(value, 'latin1') });
      const shown = async (id: bigint): Promise<string[]> => (await s.producerMarks(id)).map((m) => `${m.key.toString()}=${m.value.toString('hex')}`);
      assert.deepEqual(await s.producerMarks(5n), []);
      await s.append([{ producerId: 5n, lastSeq: 1, messages: [msg('x')], marks: [mark('b', '\x00\xff'), mark('a', '1')] }]);
      assert.deepEqual(await shown(5n), ['a=31', 'b=00ff']);
      await s.append([
        { producerId: 5n, lastSeq: 2, messages: [], marks: [mark('a', '22'), mark('b', '')] },
        { producerId: 6n, lastSeq: 1, messages: [], marks: [mark('a', 'other writer')] },
      ]);
      assert.deepEqual(await shown(5n), ['a=3232']);
      // Refused by its afterSeq: its marks are not kept either.
      assert.deepEqual(await s.append([{ producerId: 5n, afterSeq: 0, lastSeq: 3, messages: [], marks: [mark('a', 'stale')] }]), [null]);
      assert.deepEqual(await shown(5n), ['a=3232']);
      // At most MARKS_PER_WRITER_MAX keys: a new one past it is not kept; known keys still change.
      const many = Array.from({ length: MARKS_PER_WRITER_MAX + 3 }, (_, i) => mark(`k${String(i).padStart(3, '0')}`, 'v'));
      await s.append([{ producerId: 7n, lastSeq: 1, messages: [], marks: many }]);
      const kept = await s.producerMarks(7n);
      assert.equal(kept.length, MARKS_PER_WRITER_MAX);
      assert.equal(kept.at(-1)!.key.toString(), `k${MARKS_PER_WRITER_MAX - 1}`);
      await s.append([{ producerId: 7n, lastSeq: 2, messages: [], marks: [mark('k000', ''), mark('zz', 'new'), mark('k001', 'w')] }]);
      const after = await s.producerMarks(7n);
      assert.equal(after.length, MARKS_PER_WRITER_MAX);
      assert.equal(after[0]!.key.toString(), 'k001');
      assert.equal(after[0]!.value.toString(), 'w');
      assert.equal(after.at(-1)!.key.toString(), 'zz');
      await s.close();
    });

    test("a batch continuing from a sequence number the store has moved past is refused, and nothing of it kept", async () => {
      const s = await fresh();
      // Another server stored this writer's datagrams up to 7 while this one believed 4 was the last.
      assert.deepEqual(await s.append([{ producerId: 3n, afterSeq: 0, lastSeq: 7, messages: [msg('a')] }]), [1]);
      const ids = await s.append([
        { producerId: 3n, afterSeq: 4, lastSeq: 9, messages: [msg('again'), msg('b')] },
        { producerId: 8n, afterSeq: 0, lastSeq: 2, messages: [msg('c')] },
      ]);
      assert.deepEqual(ids, [null, 2]);
      assert.equal(await s.producerSeq(3n), 7);
      assert.deepEqual((await s.read(1, all)).messages.map((m) => m.text.toString()), ['a', 'c']);
      // From where the store stands, it goes on.
      assert.deepEqual(await s.append([{ producerId: 3n, afterSeq: 7, lastSeq: 9, messages: [msg('b')] }]), [3]);
      // A writer the store has never seen (or forgot) continues from wherever it says.
      assert.deepEqual(await s.append([{ producerId: 4n, afterSeq: 40, lastSeq: 41, messages: [] }]), [4]);
      await s.close();
    });

    test('reads within limits, always at least one message, and says where to go on', async () => {
      const s = await fresh();
      await s.append([{ producerId: 1n, lastSeq: 1, messages: ['1', '22', '333', '4444'].map((t) => msg(t)) }]);
      let r = await s.read(1, { ...all, maxMessages: 2 });
      assert.deepEqual(r.messages.map((m) => m.id), [1, 2]);
      assert.equal(r.next, 3);
      assert.equal(r.atEnd, false);
      r = await s.read(2, { ...all, maxBytes: 4 });
      assert.deepEqual(r.messages.map((m) => m.id), [2]);
      assert.equal(r.next, 3);
      r = await s.read(4, { ...all, maxBytes: 1 });
      assert.deepEqual(r.messages.map((m) => m.id), [4]);
      assert.equal(r.atEnd, true);
      r = await s.read(99, all);
      assert.deepEqual(r.messages, []);
      await s.close();
    });

    test("skips direct messages addressed to someone else, and moves past them", async () => {
      const s = await fresh();
      await s.append([
        { producerId: 1n, lastSeq: 1, messages: [msg('to-x', { to: 'x' }), msg('to-r', { to: 'r' }), msg('all'), msg('to-y', { to: 'y' })] },
      ]);
      const r = await s.read(1, all);
      assert.deepEqual(r.messages.map((m) => m.text.toString()), ['to-r', 'all']);
      assert.equal(r.next, 5);
      assert.equal(r.atEnd, true);
      await s.close();
    });

    test("a read scans at most SCAN_MAX messages: past a long run of others' direct messages it says where to go on", async () => {
      const s = await fresh();
      const others = Array.from({ length: SCAN_MAX + 10 }, (_, i) => msg(`x${i}`, { to: 'x' }));
      await s.append([{ producerId: 1n, lastSeq: 1, messages: [...others, msg('mine')] }]);
      const r = await s.read(1, all);
      assert.deepEqual([r.messages.length, r.next, r.atEnd], [0, SCAN_MAX + 1, false]);
      const rest = await s.read(r.next, all);
      assert.deepEqual([rest.messages.map((m) => m.text.toString()), rest.next, rest.atEnd], [['mine'], SCAN_MAX + 12, true]);
      await s.close();
    });

    test('names claimed across servers, where the store keeps claims (all three methods, or none)', async () => {
      const s = await fresh();
      const kept = [s.claimName, s.renewNames, s.releaseName].filter((m) => m !== undefined).length;
      assert.ok(kept === 0 || kept === 3, `${kept} of the three claim methods`);
      if (!s.claimName || !s.renewNames || !s.releaseName) return s.close(); // a store one server uses
      // Holders are 'client|server': the same client may claim its name again from any server.
      assert.deepEqual(await s.claimName('reader:alice', '10.0.0.1:5000|A', 30_000, false), { ok: true });
      const refused = await s.claimName('reader:alice', '10.0.0.2:6000|B', 30_000, false);
      assert.ok(!refused.ok && refused.heldForMs > 29_000 && refused.heldForMs <= 30_000, JSON.stringify(refused));
      assert.deepEqual(await s.claimName('reader:alice', '10.0.0.1:5000|B', 30_000, false), { ok: true });
      assert.deepEqual(await s.renewNames([{ key: 'reader:alice', holder: '10.0.0.1:5000|A' }], 30_000), ['reader:alice']);
      assert.deepEqual(await s.renewNames([{ key: 'reader:alice', holder: '10.0.0.1:5000|B' }], 30_000), []);
      await s.releaseName('reader:alice', '10.0.0.1:5000|A'); // not A's any more: nothing happens
      assert.equal((await s.claimName('reader:alice', '10.0.0.3:7000|A', 30_000, false)).ok, false);
      await s.releaseName('reader:alice', '10.0.0.1:5000|B');
      assert.deepEqual(await s.claimName('reader:alice', '10.0.0.3:7000|A', 30_000, false), { ok: true });
      assert.deepEqual(await s.claimName('reader:alice', '10.0.0.4:8000|B', 30_000, true), { ok: true }, 'a proven login takes it');
      assert.deepEqual(await s.claimName('writer:alice', '10.0.0.5:9000|B', 100, false), { ok: true }, 'roles are separate names');
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(await s.claimName('writer:alice', '10.0.0.6:9000|A', 30_000, false), { ok: true }, 'a claim not renewed expires');
      await s.close();
    });

    test('keeps reader positions and the registry of clients, with the topic each was last in', async () => {
      const s = await fresh();
      assert.equal(await s.cursor('r'), undefined);
      await s.saveCursors(new Map([['r', 5], ['q', 2]]));
      await s.saveCursors(new Map([['r', 7]]));
      assert.equal(await s.cursor('r'), 7);
      assert.equal(await s.cursor('q'), 2);
      await s.saveClient({ name: 'a', role: 'writer', online: true, lastSeen: 10, topic: 'main' });
      await s.saveClient({ name: 'a', role: 'reader', online: true, lastSeen: 11, topic: 'chat.ops' });
      await s.saveClient({ name: 'a', role: 'writer', online: false, lastSeen: 12, topic: 'chat.dev-1' });
      const clients = (await s.clients()).sort((x, y) => x.role.localeCompare(y.role));
      assert.deepEqual(clients, [
        { name: 'a', role: 'reader', online: true, lastSeen: 11, topic: 'chat.ops' },
        { name: 'a', role: 'writer', online: false, lastSeen: 12, topic: 'chat.dev-1' },
      ]);
      await s.close();
    });

    test('forgets clients offline since before a time, with their reader positions', async () => {
      const s = await fresh();
      try {
        await s.saveClient({ name: 'gone', role: 'reader', online: false, lastSeen: 100, topic: 'main' });
        await s.saveClient({ name: 'gone', role: 'writer', online: false, lastSeen: 150, topic: 'main' });
        await s.saveClient({ name: 'recent', role: 'reader', online: false, lastSeen: 1_000, topic: 'main' });
        await s.saveClient({ name: 'online', role: 'reader', online: true, lastSeen: 50, topic: 'main' });
        await s.saveClient({ name: 'w:x', role: 'writer', online: false, lastSeen: 10, topic: 'main' });
        await s.saveCursors(new Map([['gone', 4], ['recent', 5], ['online', 6], ['group/g', 7]]));
        assert.equal(await s.forgetClients(1_000), 3, 'both records of gone, and the writer w:x');
        const left = (await s.clients()).map((c) => `${c.role}:${c.name}`).sort();
        assert.deepEqual(left, ['reader:online', 'reader:recent'], 'one seen at the time stays; one online stays whatever its age');
        assert.equal(await s.cursor('gone'), undefined, 'a forgotten reader starts as a new one');
        assert.equal(await s.cursor('recent'), 5);
        assert.equal(await s.cursor('online'), 6);
        assert.equal(await s.cursor('group/g'), 7, "a group's position is not a client's");
        assert.equal(await s.forgetClients(1_000), 0);
      } finally {
        await s.close();
      }
    });

    test("its size: the log's bounds and the bytes of text it keeps, retention included", async () => {
      const s = await fresh({ messages: 2, bytes: 0, ageMs: 0 });
      try {
        assert.deepEqual(await s.size(), { first: 1, next: 1, bytes: 0 });
        await s.append([{ producerId: 1n, lastSeq: 1, messages: ['a', 'bb', 'ccc'].map((t) => msg(t)) }]);
        assert.deepEqual(await s.size(), { first: 2, next: 4, bytes: 5 });
      } finally {
        await s.close();
      }
    });

    test('retention by count keeps the newest N; a read from below starts at the oldest kept', async () => {
      const s = await fresh({ messages: 3, bytes: 0, ageMs: 0 });
      for (let i = 1; i <= 5; i++) await s.append([{ producerId: 1n, lastSeq: i, messages: [msg(String(i))] }]);
      assert.deepEqual(await s.bounds(), { first: 3, next: 6 });
      const r = await s.read(1, all);
      assert.equal(r.first, 3);
      assert.deepEqual(r.messages.map((m) => m.text.toString()), ['3', '4', '5']);
      await s.close();
    });

    test('retention by bytes and by age', async () => {
      const s = await fresh({ messages: 0, bytes: 6, ageMs: 0 });
      await s.append([{ producerId: 1n, lastSeq: 1, messages: ['aa', 'bb', 'cc', 'dd'].map((t) => msg(t)) }]);
      assert.deepEqual((await s.read(1, all)).messages.map((m) => m.text.toString()), ['bb', 'cc', 'dd']);
      await s.close();
      const t = await fresh({ messages: 0, bytes: 0, ageMs: 1000 });
      await t.append([{ producerId: 1n, lastSeq: 1, messages: [msg('old', { ts: 1000 }), msg('new', { ts: 5000 })] }]);
      await t.append([{ producerId: 1n, lastSeq: 2, messages: [msg('newer', { ts: 5500 })] }]);
      assert.deepEqual((await t.read(1, all)).messages.map((m) => m.text.toString()), ['new', 'newer']);
      await t.close();
    });

    test('retention by age counts from the newest message appended, whichever batch of the commit it is in', async () => {
      const s = await fresh({ messages: 0, bytes: 0, ageMs: 1000 });
      await s.append([
        { producerId: 1n, lastSeq: 1, messages: [msg('old', { ts: 1000 })] },
        { producerId: 2n, lastSeq: 1, messages: [msg('new', { ts: 5000 })] },
      ]);
      assert.deepEqual((await s.read(1, all)).messages.map((m) => m.text.toString()), ['new']);
      assert.deepEqual(await s.bounds(), { first: 2, next: 3 });
      await s.close();
    });

    test('retention by age goes on while nothing is appended: a quiet log ages out by the clock', async () => {
      const s = await fresh({ messages: 0, bytes: 0, ageMs: 200 });
      await s.append([{ producerId: 1n, lastSeq: 1, messages: [msg('soon gone', { ts: Date.now() })] }]);
      assert.deepEqual(await s.bounds(), { first: 1, next: 2 });
      const deadline = Date.now() + 3_000;
      while ((await s.bounds()).first === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await s.bounds(), { first: 2, next: 2 }, 'gone within a few periods of the age');
      assert.deepEqual((await s.read(1, all)).messages, []);
      await s.close();
    });
  });
}
