// Sign-on and what a client takes as the server's: the same rules for writers and readers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Address } from '../../src/core/address.js';
import { READER_DEFAULTS, ReaderCore } from '../../src/core/reader/reader-core.js';
import { WRITER_DEFAULTS, WriterCore } from '../../src/core/writer/writer-core.js';
import { encode } from '../../src/protocol/codec.js';
import { COOKIE_BYTES, RefuseCode } from '../../src/protocol/constants.js';
import { ClientCipher, type ClientEncryption } from '../../src/core/client/client-cipher.js';
import { noiseCrypto } from '../../src/io/noise-crypto.js';
import { decode } from '../../src/protocol/codec.js';
import type { Packet, Welcome } from '../../src/protocol/packets.js';
import { RECORD_OVERHEAD } from '../../src/protocol/records.js';
import { drain, SERVER, T0 } from './helpers.js';
import { SERVER_KEYS, serverAnswer, trusting } from './sealed-client.js';

const SID = 77n;
const COOKIE = Buffer.alloc(COOKIE_BYTES, 7);
/** Not the server in use: servers are told apart by port (one may answer from another of its addresses). */
const ELSEWHERE: Address = { address: SERVER.address, port: SERVER.port + 1 };

interface Client {
  handleDatagram(data: Buffer, from: Address, now: number): void;
  handleTimeout(now: number): void;
  nextDeadline(): number | undefined;
  pollTransmit(): { to: Address; data: Buffer } | undefined;
  pollEvent(): { type: string } | undefined;
}

const clients: {
  name: string;
  make: (auth?: { secret?: Buffer; encryption?: ClientEncryption }) => Client;
  close: (c: Client, now: number) => void;
  closed: object[];
  /** BYEs sent before giving up on a GOODBYE: a reader's position is at stake, so it tries once more. */
  byeTries: number;
}[] = [
  {
    name: 'writer',
    make: (auth) => new WriterCore({ ...WRITER_DEFAULTS, name: 'c', servers: [SERVER], producerId: 5n, nonce: 1, ...auth }, T0),
    close: (c, now) => (c as WriterCore).endInput(now),
    closed: [{ type: 'done' }],
    byeTries: 4,
  },
  {
    name: 'reader',
    make: (auth) => new ReaderCore({ ...READER_DEFAULTS, name: 'c', servers: [SERVER], nonce: 1, presence: 'watch', ...auth }, T0),
    close: (c, now) => (c as ReaderCore).close(now),
    closed: [{ type: 'closed', unconfirmed: true }],
    byeTries: 5,
  },
];

const events = (c: Client): { type: string }[] => {
  const out = [];
  for (let e = c.pollEvent(); e; e = c.pollEvent()) out.push(e);
  return out;
};
const kinds = (c: Client): string[] => drain(c).map((t) => t.packet.kind);
const welcome = (nonce = 1): Buffer =>
  encode({ kind: 'welcome', nonce, sessionId: SID, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 1, missed: 0 });
const refuse = (code: RefuseCode, nonce = 1): Buffer => encode({ kind: 'refuse', nonce, code, reason: `reason ${code}` });

/** Signed on, with what it sent then and its events drained. */
const signedOn = (make: () => Client): Client => {
  const c = make();
  c.handleDatagram(welcome(), SERVER, T0 + 1);
  drain(c);
  events(c);
  return c;
};

for (const { name, make, close, closed, byeTries } of clients) {
  describe(`${name}: sign-on`, () => {
    test('refused: says why once, sends nothing more, and wants no timer', () => {
      const c = make();
      drain(c);
      c.handleDatagram(refuse(RefuseCode.NameTaken, 2), SERVER, T0 + 1);
      assert.deepEqual(events(c), [], 'a refusal of another HELLO (its nonce) is not ours');
      c.handleDatagram(refuse(RefuseCode.NameTaken), ELSEWHERE, T0 + 1);
      assert.deepEqual(events(c), [], 'nor one from another address');
      c.handleDatagram(refuse(RefuseCode.NameTaken), SERVER, T0 + 2);
      assert.deepEqual(events(c), [{ type: 'refused', code: RefuseCode.NameTaken, reason: 'reason 2', byServer: true }]);
      assert.equal(c.nextDeadline(), undefined);
      c.handleTimeout(T0 + 60_000);
      c.handleDatagram(welcome(), SERVER, T0 + 60_001);
      assert.deepEqual(kinds(c), []);
      assert.deepEqual(events(c), [], 'a welcome after the refusal changes nothing');
    });

    test('a server limiting handshakes: said once, and HELLO goes again on its timer until welcomed', () => {
      const c = make();
      drain(c);
      c.handleDatagram(refuse(RefuseCode.RateLimited), SERVER, T0 + 1);
      assert.deepEqual(events(c), [{ type: 'rate-limited', reason: 'reason 7' }], 'said at the first');
      c.handleDatagram(refuse(RefuseCode.RateLimited), SERVER, T0 + 2);
      assert.deepEqual(events(c), [], 'and only then');
      assert.deepEqual(kinds(c), [], 'not at once');
      const at = c.nextDeadline()!;
      assert.ok(at > T0 + 2 && at <= T0 + 1_000);
      c.handleTimeout(at);
      assert.deepEqual(kinds(c), ['hello']);
      c.handleDatagram(welcome(), SERVER, at + 1);
      assert.equal(events(c)[0]?.type, 'registered');
    });

    test('a RETRY: HELLO again at once, with its cookie; a WELCOME from elsewhere or to another HELLO is not taken', () => {
      const c = make();
      drain(c);
      c.handleDatagram(encode({ kind: 'retry', nonce: 1, cookie: COOKIE }), SERVER, T0 + 1);
      const again = drain(c).map((t) => t.packet);
      assert.equal(again.length, 1);
      assert.ok(again[0]!.kind === 'hello' && again[0]!.cookie.equals(COOKIE));
      c.handleDatagram(welcome(), ELSEWHERE, T0 + 2);
      c.handleDatagram(welcome(9), SERVER, T0 + 2);
      assert.deepEqual(events(c), []);
      c.handleDatagram(Buffer.from('not a packet'), SERVER, T0 + 3);
      c.handleDatagram(welcome(), SERVER, T0 + 4);
      assert.deepEqual(events(c).map((e) => e.type), ['registered']);
      c.handleDatagram(welcome(), SERVER, T0 + 5);
      assert.deepEqual(events(c), [], 'a WELCOME repeated is not a second registration');
    });
  });

  describe(`${name}: what is not for its session`, () => {
    const other = SID + 1n;
    const foreign: Extract<Packet, { sessionId: bigint }>[] = [
      { kind: 'ping', sessionId: other },
      { kind: 'pong', sessionId: other },
      { kind: 'unknown-session', sessionId: other },
      { kind: 'goodbye', sessionId: other },
      { kind: 'ack', sessionId: other, received: 1, committed: 1, sacks: [] },
      { kind: 'batch', sessionId: other, fetchId: 1, part: 0, lastPart: true, caughtUp: true, position: 1, offset: 0, nextPosition: 2, nextOffset: 0, missed: 0, messages: [{ id: 1, ts: T0, from: 'x', text: Buffer.from('x') }] },
      { kind: 'presence', sessionId: other, requestId: 1, version: 5, full: true, more: false, nextOffset: 0, entries: [{ name: 'x', role: 'writer', online: true, lastSeen: T0, topic: 'main' }] },
      { kind: 'stalled', sessionId: other, retryAfterMs: 1_000, reason: 'full' },
      { kind: 'throttle', sessionId: other, limit: 10, retryAfterMs: 100 },
    ];
    for (const p of foreign) {
      test(`${p.kind} naming another session, or from another address, is ignored`, () => {
        const c = signedOn(make);
        c.handleDatagram(encode(p), SERVER, T0 + 2);
        c.handleDatagram(encode({ ...p, sessionId: SID }), ELSEWHERE, T0 + 2);
        assert.deepEqual(kinds(c), []);
        assert.deepEqual(events(c), []);
      });
    }

    test('a PING of its own session is answered; heard from after a silence, the server is back', () => {
      const c = signedOn(make);
      c.handleDatagram(encode({ kind: 'ping', sessionId: SID }), SERVER, T0 + 2);
      assert.deepEqual(kinds(c), ['pong']);
      // Silence: the client pings and, unanswered, says the server is lost.
      let now = T0 + 2;
      while (!events(c).some((e) => e.type === 'server-lost') && now < T0 + 60_000) {
        now = c.nextDeadline()!;
        c.handleTimeout(now);
        drain(c);
      }
      c.handleDatagram(encode({ kind: 'pong', sessionId: SID + 1n }), SERVER, now + 1);
      assert.deepEqual(events(c), [], 'not by a PONG of another session');
      c.handleDatagram(encode({ kind: 'pong', sessionId: SID }), ELSEWHERE, now + 1);
      assert.deepEqual(events(c), [], 'nor by one from another server');
      c.handleDatagram(encode({ kind: 'pong', sessionId: SID }), SERVER, now + 2);
      assert.deepEqual(events(c), [{ type: 'server-back' }]);
      assert.ok(!kinds(c).includes('pong'), 'a PONG is not answered');
    });

    test('told its session is unknown (the server restarted): HELLO again with a new nonce', () => {
      const c = signedOn(make);
      c.handleDatagram(encode({ kind: 'unknown-session', sessionId: SID }), SERVER, T0 + 2);
      const [hello] = drain(c).map((t) => t.packet);
      assert.ok(hello?.kind === 'hello' && hello.nonce === 2, JSON.stringify(hello?.kind));
      // The same news again (a duplicate, or an answer to something sent before) starts nothing over.
      c.handleDatagram(encode({ kind: 'unknown-session', sessionId: SID }), SERVER, T0 + 2);
      assert.deepEqual(kinds(c), [], 'no second HELLO');
      c.handleDatagram(welcome(1), SERVER, T0 + 3);
      assert.deepEqual(events(c), [], 'the old nonce is not welcomed');
      c.handleDatagram(welcome(2), SERVER, T0 + 4);
      assert.deepEqual(events(c).map((e) => e.type), ['registered']);
    });

    test('a GOODBYE while open, in open mode, is not taken as a take-over', () => {
      const c = signedOn(make);
      c.handleDatagram(encode({ kind: 'goodbye', sessionId: SID }), SERVER, T0 + 2);
      assert.deepEqual(events(c), []);
      assert.notEqual(c.nextDeadline(), undefined, 'still running');
    });
  });

  describe(`${name}: signing off`, () => {
    test(`BYE unanswered: sent again every 200 ms, ${byeTries} in all, then it ends all the same (the server is not called lost)`, () => {
      const c = signedOn(make);
      close(c, T0 + 2);
      const byes = [T0 + 2];
      assert.deepEqual(kinds(c), ['bye']);
      let ended: { type: string }[] = [];
      for (let i = 0; i < 10 && ended.length === 0; i++) {
        const now = c.nextDeadline()!;
        c.handleTimeout(now);
        for (const k of kinds(c)) if (k === 'bye') byes.push(now);
        ended = events(c);
      }
      assert.deepEqual(byes.map((t) => t - T0), Array.from({ length: byeTries }, (_, i) => 2 + 200 * i));
      assert.deepEqual(ended, closed);
      assert.equal(c.nextDeadline(), undefined);
      c.handleTimeout(T0 + 60_000);
      assert.deepEqual(kinds(c), []);
      assert.deepEqual(events(c), [], 'ended: nothing more happens');
    });

    test('a server that never answers is sent HELLOs only, however long it takes', () => {
      const c = make();
      const sent = new Set<string>();
      for (let now = T0, i = 0; now < T0 + 120_000 && i < 1_000; i++) {
        for (const k of kinds(c)) sent.add(k);
        now = c.nextDeadline() ?? now + 1_000;
        c.handleTimeout(now);
      }
      assert.deepEqual([...sent], ['hello']);
    });

    test('closing, with the server silent long enough to be called lost meanwhile: it is not (the BYEs run their course)', () => {
      const c = signedOn(make);
      // Whatever it sent since signing on is unanswered; it closes just before that makes the server lost.
      let now = T0 + 1_900;
      close(c, now);
      const to = new Set<number>();
      let ended: { type: string }[] = [];
      for (let i = 0; i < 20 && ended.length === 0; i++) {
        for (const t of drain(c)) to.add(t.to.port);
        ended = events(c);
        if (ended.length > 0) break;
        now = c.nextDeadline()!;
        c.handleTimeout(now);
      }
      assert.ok(now >= T0 + 2_001, `still closing when the server would be lost (+${now - T0} ms)`);
      assert.deepEqual(ended, closed);
      assert.deepEqual([...to], [SERVER.port]);
    });

    test('a GOODBYE of another session does not end it; its own does, once', () => {
      const c = signedOn(make);
      close(c, T0 + 2);
      drain(c);
      c.handleDatagram(encode({ kind: 'goodbye', sessionId: SID + 1n }), SERVER, T0 + 3);
      assert.deepEqual(events(c), []);
      c.handleDatagram(encode({ kind: 'goodbye', sessionId: SID }), SERVER, T0 + 4);
      c.handleDatagram(encode({ kind: 'goodbye', sessionId: SID }), SERVER, T0 + 5);
      assert.equal(events(c).length, 1);
      assert.equal(c.nextDeadline(), undefined);
    });
  });

  describe(`${name}: encrypted`, () => {
    const secret = Buffer.from('s3cret');
    const encryption = { crypto: noiseCrypto, serverKeys: trusting() };
    const plainWelcome = decode(welcome()) as Welcome;
    /** Signed on: RETRY with the server key, HELLO with its handshake (the secret inside), the WELCOME sealed in the answer. */
    const signedOn = (authenticated = true, withSecret: Buffer | undefined = secret) => {
      const c = make({ ...(withSecret && { secret: withSecret }), encryption });
      drain(c);
      c.handleDatagram(encode({ kind: 'retry', nonce: 1, cookie: COOKIE, serverKey: SERVER_KEYS.publicKey }), SERVER, T0 + 1);
      const [hello] = drain(c).map((t) => t.packet);
      assert.ok(hello?.kind === 'hello' && hello.handshake !== undefined, 'the HELLO carries the first handshake message');
      const answer = serverAnswer(hello, plainWelcome, authenticated);
      assert.deepEqual(answer.secret, withSecret, 'the secret, sealed to the server');
      c.handleDatagram(encode(answer.sealed), SERVER, T0 + 2);
      const said = events(c).map((e) => e.type);
      while (c.pollTransmit());
      return { c, said, toClient: (p: Packet) => answer.server.seal(encode(p), T0), server: answer.server };
    };

    test('what it sends is sealed and fits the datagram size sealed; answers of its session in the clear are not taken', () => {
      const { c, said, toClient, server } = signedOn();
      assert.deepEqual(said, ['registered']);
      c.handleDatagram(encode({ kind: 'ping', sessionId: SID }), SERVER, T0 + 3);
      assert.deepEqual(c.pollTransmit(), undefined, 'a PING in the clear is not the server');
      c.handleDatagram(toClient({ kind: 'ping', sessionId: SID }), SERVER, T0 + 4);
      const pong = c.pollTransmit()!;
      assert.equal(pong.data.length, encode({ kind: 'pong', sessionId: SID }).length + RECORD_OVERHEAD);
      assert.deepEqual(decode(server.open(pong.data)!), { kind: 'pong', sessionId: SID });
      if (c instanceof WriterCore) {
        for (let i = 0; i < 3000; i++) c.submitLine(Buffer.alloc(i % 3, 97));
        c.flush(T0 + 5);
        let n = 0;
        for (let t = c.pollTransmit(); t; t = c.pollTransmit()) {
          assert.ok(t.data.length <= 1200, `${t.data.length} bytes`);
          n++;
        }
        assert.ok(n >= 4);
      }
    });

    test('a GOODBYE sealed in its keys while open: a newer login took the session over, and this one stops', () => {
      const { c, toClient } = signedOn();
      c.handleDatagram(encode({ kind: 'goodbye', sessionId: SID }), SERVER, T0 + 3);
      assert.deepEqual(events(c), [], 'not in the clear');
      c.handleDatagram(toClient({ kind: 'goodbye', sessionId: SID }), SERVER, T0 + 4);
      assert.deepEqual(events(c), [{ type: 'taken-over' }]);
      assert.equal(c.nextDeadline(), undefined);
      c.handleDatagram(toClient({ kind: 'goodbye', sessionId: SID }), SERVER, T0 + 5);
      assert.deepEqual(events(c), [], 'said once');
    });

    test('a WELCOME in the clear, or sealed for another handshake, is not the server; one that says the secret went unchecked is an open server, said once', () => {
      const c = make({ secret, encryption });
      drain(c);
      c.handleDatagram(welcome(), SERVER, T0 + 1);
      c.handleDatagram(encode({ kind: 'retry', nonce: 1, cookie: COOKIE, serverKey: SERVER_KEYS.publicKey }), SERVER, T0 + 1);
      const [hello] = drain(c).map((t) => t.packet);
      assert.ok(hello?.kind === 'hello');
      c.handleDatagram(welcome(), SERVER, T0 + 2);
      const stranger = new ClientCipher(encryption, undefined);
      stranger.retried(SERVER, SERVER_KEYS.publicKey);
      const theirs = { ...hello, handshake: stranger.handshake(hello)! };
      c.handleDatagram(encode(serverAnswer(theirs, plainWelcome).sealed), SERVER, T0 + 2);
      assert.deepEqual(events(c), []);
      c.handleDatagram(encode(serverAnswer(hello, plainWelcome, false).sealed), SERVER, T0 + 3);
      assert.deepEqual(events(c).map((e) => e.type), ['open-server', 'registered']);
    });

    test('a server key it does not trust: refused by us, with the reason, and no handshake sent', () => {
      const c = make({ encryption });
      drain(c);
      c.handleDatagram(encode({ kind: 'retry', nonce: 1, cookie: COOKIE, serverKey: Buffer.alloc(32, 9) }), SERVER, T0 + 1);
      assert.deepEqual(events(c), [{ type: 'refused', code: RefuseCode.Unauthorized, reason: 'not the key we trust', byServer: false }]);
      assert.deepEqual(kinds(c), []);
    });

    test('UNKNOWN_SESSION comes in the clear (the server has no keys for it): taken, and it signs on again', () => {
      const { c } = signedOn(false, undefined);
      c.handleDatagram(encode({ kind: 'unknown-session', sessionId: SID }), SERVER, T0 + 3);
      assert.deepEqual(kinds(c), ['hello']);
    });
  });
}
