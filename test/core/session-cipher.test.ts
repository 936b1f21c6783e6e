import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noiseCrypto as c } from '../../src/io/noise-crypto.js';
import { RECORD_OVERHEAD, recordHead, sealRecord } from '../../src/protocol/records.js';
import { REKEY_MS, SessionCipher } from '../../src/core/session-cipher.js';
import { encode } from '../../src/protocol/encode.js';

const ID = 0x1234_5678_9abc_def0n;
const toServer = Buffer.alloc(32, 1);
const toClient = Buffer.alloc(32, 2);
const pair = (now = 0, rekey?: { records: number; ms: number }) => ({
  client: new SessionCipher(c, ID, toServer, toClient, now, rekey),
  server: new SessionCipher(c, ID, toClient, toServer, now, rekey),
});
const packet = (text: string): Buffer => Buffer.from(text);

test('a sealed packet is opened by the other side only, and its bytes are not on the wire', () => {
  const { client, server } = pair();
  const ping = encode({ kind: 'ping', sessionId: ID });
  const record = client.seal(ping, 0);
  assert.equal(record.length, ping.length + RECORD_OVERHEAD);
  assert.deepEqual(recordHead(record), { sessionId: ID, epoch: 0, counter: 0 });
  assert.deepEqual(server.open(record), ping);
  const marker = packet('a line nobody else may read');
  const sealed = server.seal(marker, 0);
  assert.equal(sealed.includes(marker), false);
  assert.equal(server.open(sealed), undefined, 'a side cannot open what it sealed itself');
  assert.deepEqual(client.open(sealed), marker);
  assert.equal(client.open(Buffer.from('UR\x01\x30 plain')), undefined, 'a plain packet is not a record');
});

test('any byte flipped is refused, and the genuine record is still taken after it; a replay is refused, reordering is not', () => {
  const { client, server } = pair();
  const records = [0, 1, 2, 3].map((i) => client.seal(packet(`line ${i}`), 0));
  const first = records[0]!;
  for (let i = 0; i < first.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const bad = Buffer.from(first);
      bad[i]! ^= bit;
      assert.equal(server.open(bad), undefined, `byte ${i} ^ ${bit}`);
    }
  }
  assert.equal(server.open(first.subarray(0, first.length - 1)), undefined, 'cut short');
  for (const i of [0, 3, 1]) assert.equal(server.open(records[i]!)?.toString(), `line ${i}`);
  for (const i of [0, 3, 1]) assert.equal(server.open(records[i]!), undefined, `record ${i} again`);
  assert.equal(server.open(records[2]!)?.toString(), 'line 2', 'late, not lost');
  // Another session's id on this session's record: the id is bound to the seal.
  const other = Buffer.from(client.seal(packet('x'), 0));
  other.writeBigUInt64BE(ID + 1n, 4);
  assert.equal(server.open(other), undefined);
  assert.equal(new SessionCipher(c, ID + 1n, toClient, toServer, 0).open(other), undefined);
});

test('keys are renewed on a long session, by count and by time; a record of the epoch before still opens, older ones do not', () => {
  const { client, server } = pair(0, { records: 3, ms: REKEY_MS });
  const epoch0 = [0, 1, 2].map((i) => client.seal(packet(`e0 ${i}`), 0));
  const epoch1 = client.seal(packet('e1 0'), 0);
  assert.equal(recordHead(epoch1)?.epoch, 1, 'renewed after 3 records');
  assert.equal(server.open(epoch0[0]!)?.toString(), 'e0 0');
  assert.equal(server.open(epoch1)?.toString(), 'e1 0');
  assert.equal(server.open(epoch0[2]!)?.toString(), 'e0 2', 'the epoch before, still on its way');
  assert.equal(server.open(epoch1), undefined, 'a replay across the move');
  const later = client.seal(packet('e2 0'), REKEY_MS);
  assert.equal(recordHead(later)?.epoch, 2, 'renewed by time');
  assert.equal(server.open(later)?.toString(), 'e2 0');
  assert.equal(server.open(epoch0[1]!), undefined, 'two epochs back: forgotten');
  // A record two epochs ahead, or one ahead sealed with a key not derived from ours, moves nothing.
  const forged = sealRecord(c, Buffer.alloc(32, 9), { sessionId: ID, epoch: 3, counter: 0 }, packet('forged'));
  assert.equal(server.open(forged), undefined);
  assert.equal(server.open(sealRecord(c, Buffer.alloc(32, 9), { sessionId: ID, epoch: 4, counter: 0 }, packet('far'))), undefined);
  assert.equal(server.open(client.seal(packet('e2 1'), REKEY_MS))?.toString(), 'e2 1', 'still on epoch 2');
});

test('by default keys are renewed every two minutes, counted from the session\'s start', () => {
  const { client, server } = pair(1_000);
  assert.equal(recordHead(client.seal(packet('a'), 1_000 + REKEY_MS - 1))?.epoch, 0);
  const renewed = client.seal(packet('b'), 1_000 + REKEY_MS);
  assert.equal(recordHead(renewed)?.epoch, 1);
  assert.equal(server.open(renewed)?.toString(), 'b');
});

test('a record of another session is refused even under the same keys; what is not a record has no head', () => {
  const { server } = pair();
  assert.equal(server.open(sealRecord(c, toServer, { sessionId: ID + 1n, epoch: 0, counter: 0 }, packet('elsewhere'))), undefined);
  assert.equal(server.open(sealRecord(c, toServer, { sessionId: ID, epoch: 0, counter: 0 }, packet('here')))?.toString(), 'here');
  const record = sealRecord(c, toServer, { sessionId: ID, epoch: 0, counter: 1 }, packet('x'));
  for (const [at, value] of [[0, 0x56], [1, 0x53], [2, 1], [3, 0x01]] as const) {
    const other = Buffer.from(record);
    other[at] = value;
    assert.equal(recordHead(other), undefined, `byte ${at} = ${value}`);
  }
  assert.equal(recordHead(record.subarray(0, RECORD_OVERHEAD - 1)), undefined);
  assert.deepEqual(recordHead(record.subarray(0, RECORD_OVERHEAD)), { sessionId: ID, epoch: 0, counter: 1 });
});
