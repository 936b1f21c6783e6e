import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../../src/protocol/codec.js';
import { ReaderState } from '../../src/protocol/constants.js';
import type { Packet } from '../../src/protocol/packets.js';
import { CLIENT, helloReader, OTHER, T0, threeLinesAndReader } from './helpers.js';

const FAR = { address: '127.0.0.1', port: 40009 };

test('TRACK: where a name\'s reader is, online with its live position, offline with its saved one, or unknown', async () => {
  const { h, rsid } = await threeLinesAndReader({});
  const [asker] = await h.handshake(helloReader('alice', 5), FAR, T0);
  assert.equal(asker!.kind, 'welcome');
  const sessionId = (asker as { sessionId: bigint }).sessionId;
  let requestId = 0;
  const track = async (name: string, now: number): Promise<Packet> => {
    const out = await h.deliver(encode({ kind: 'track', sessionId, requestId: ++requestId, name }), FAR, now);
    assert.equal(out.length, 1, `one answer for ${name}`);
    return out[0]!;
  };
  const tracked = (name: string, state: ReaderState, position: number) => ({ kind: 'tracked', sessionId, requestId, name, state, position, logNext: 4 });

  assert.deepEqual(await track('r', T0 + 1), tracked('r', ReaderState.Online, 1), 'r has read nothing yet');
  await h.deliver(encode({ kind: 'fetch', sessionId: rsid, fetchId: 1, position: 3, offset: 0, waitMs: 0, maxDatagrams: 4 }), OTHER, T0 + 2);
  assert.deepEqual(await track('r', T0 + 3), tracked('r', ReaderState.Online, 3), 'r has printed 1 and 2');
  // r leaves having printed everything: its position waits to be saved, then is in the store.
  await h.deliver(encode({ kind: 'bye', sessionId: rsid, position: 4 }), OTHER, T0 + 4);
  assert.deepEqual(await track('r', T0 + 5), tracked('r', ReaderState.Offline, 4));
  for (let t = T0 + 5; t < T0 + 3_000; t += 100) {
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  assert.equal(await h.store.cursor('r'), 4);
  assert.deepEqual(await track('r', T0 + 3_000), tracked('r', ReaderState.Offline, 4), 'from the store');
  // A name that only ever wrote, and one never seen: no reader, so nothing can have reached one.
  assert.deepEqual(await track('w', T0 + 3_001), tracked('w', ReaderState.Unknown, 0));
  assert.deepEqual(await track('zed', T0 + 3_002), tracked('zed', ReaderState.Unknown, 0));
  // A store that is away: no answer (the asker asks again).
  h.storeDown = true;
  assert.deepEqual(await h.deliver(encode({ kind: 'track', sessionId, requestId: 99, name: 'zed' }), FAR, T0 + 3_003), []);
  h.storeDown = false;
  // From a session the server does not have: told so, as any session packet.
  assert.deepEqual(await h.deliver(encode({ kind: 'track', sessionId: 777n, requestId: 1, name: 'r' }), CLIENT, T0 + 3_004), [
    { kind: 'unknown-session', sessionId: 777n },
  ]);
});

test('TRACK: a position not saved yet (its reader gone before the flush) is answered from memory, not from the older one stored', async () => {
  const { h, rsid } = await threeLinesAndReader({ cursorFlushMs: 600_000, sessionTimeoutMs: 3_000 });
  const [asker] = await h.handshake(helloReader('alice', 5), FAR, T0);
  const sessionId = (asker as { sessionId: bigint }).sessionId;
  await h.deliver(encode({ kind: 'fetch', sessionId: rsid, fetchId: 1, position: 3, offset: 0, waitMs: 0, maxDatagrams: 4 }), OTHER, T0 + 1);
  // r goes silent and expires; alice keeps her session alive meanwhile.
  for (let t = T0 + 1_000; t <= T0 + 6_000; t += 1_000) {
    await h.deliver(encode({ kind: 'ping', sessionId }), FAR, t);
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  const stored = await h.store.cursor('r');
  const [answer] = await h.deliver(encode({ kind: 'track', sessionId, requestId: 1, name: 'r' }), FAR, T0 + 6_001);
  assert.deepEqual(answer, { kind: 'tracked', sessionId, requestId: 1, name: 'r', state: ReaderState.Offline, position: 3, logNext: 4 });
  assert.notEqual(stored, 3, 'the store did not have it yet: the answer came from what waits to be saved');
});
