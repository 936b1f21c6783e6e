import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decode, encode } from '../../src/protocol/codec.js';
import { PacketKind } from '../../src/protocol/constants.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import type { Packet } from '../../src/protocol/packets.js';
import { FIXTURES } from './fixtures.js';

const seed = process.env['SEED'] ? Number(process.env['SEED']) : undefined;
const fcOpts = (numRuns: number) => ({ numRuns, ...(seed !== undefined && { seed }) });

describe('codec fixtures', () => {
  for (const f of FIXTURES) {
    test(`generate: ${f.name}`, () => assert.equal(encode(f.packet).toString('hex'), f.hex));
    test(`parse: ${f.name}`, () => assert.deepEqual(decode(Buffer.from(f.hex, 'hex')), f.packet));
    test(`mirror: ${f.name}`, () => assert.deepEqual(decode(encode(f.packet)), f.packet));
  }
});

/** Decoding must return a packet or throw ProtocolError: nothing else, ever. */
const decodesOrRejects = (bytes: Uint8Array): void => {
  try {
    const b = Buffer.from(bytes);
    const p = decode(b);
    // Whatever decodes must encode back to the same bytes: one encoding per packet, so that no two
    // byte strings mean the same thing (a non-minimal varint, a stray flag bit, a role out of range).
    assert.equal(encode(p).toString('hex'), b.toString('hex'));
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
};

describe('codec rejections', () => {
  const cases: [string, string, string][] = [
    ['empty', '', 'truncated'],
    ['bad magic', '00000101', 'bad-magic'],
    ['an older version', '55520101', 'bad-version'],
    ['a newer version', '55520501', 'bad-version'],
    ['unknown kind', '555204ee', 'bad-kind'],
    ['truncated ping', '5552043000', 'truncated'],
    ['trailing bytes', '55520431000000000000000400', 'trailing-bytes'],
    ['a ping with a position and more', '5552043000000000000000040000000000000007ff', 'trailing-bytes'],
    ['data with no entries', '55520410' + '0000000000000001' + '00000001' + '0000', 'bad-field'],
    ['data with seq 0', '55520410' + '0000000000000001' + '00000000' + '000100' + '00', 'bad-field'],
    ['entry longer than the datagram', '55520410' + '0000000000000001' + '00000001' + '0001' + '00' + 'ff01' + '61', 'truncated'],
    ['name not UTF-8', ('55520401' + '01' + '00000001' + '01' + 'ff' + '0000000000000001' + '00000001' + '00').padEnd(128, '0'), 'bad-field'],
    ['hello not padded to 64 bytes', '55520401' + '01' + '00000001' + '01' + '61' + '046d61696e' + '0000000000000001' + '00000001' + '00', 'bad-field'],
    ['hello padding not zero', ('55520401' + '01' + '00000001' + '01' + '61' + '046d61696e' + '0000000000000001' + '00000001' + '00').padEnd(126, '0') + '01', 'bad-field'],
    ['cookie of a wrong size', ('55520401' + '01' + '00000001' + '01' + '61' + '046d61696e' + '0000000000000001' + '00000001' + '05').padEnd(128, '0'), 'bad-field'],
    ['u64 above 2^53', '55520432' + '0000000000000004' + 'ffffffffffffffff', 'bad-field'],
    ['a varint with a needless zero byte (non-minimal)', '55520410' + '0000000000000001' + '00000001' + '0001' + '00' + '8100' + '61', 'bad-field'],
    ['presence entry of role 0', '55520423' + '0000000000000004' + '00000001' + '00000003' + '01' + '00000000' + '0001' + '0161' + '00' + '01' + '00000000000003e8' + '046d61696e', 'bad-field'],
    ['presence entry of role 3 (observers are not in the registry)', '55520423' + '0000000000000004' + '00000001' + '00000003' + '01' + '00000000' + '0001' + '0161' + '03' + '01' + '00000000000003e8' + '046d61696e', 'bad-field'],
    ['presence online flag 2', '55520423' + '0000000000000004' + '00000001' + '00000003' + '01' + '00000000' + '0001' + '0161' + '02' + '02' + '00000000000003e8' + '046d61696e', 'bad-field'],
    ['presence entry of a topic that is not one', '55520423' + '0000000000000004' + '00000001' + '00000003' + '01' + '00000000' + '0001' + '0161' + '02' + '01' + '00000000000003e8' + '02612e', 'bad-field'],
    ['reader hello with an unknown flag', ('55520401' + '02' + '00000001' + '0161' + '046d61696e' + '00' + '0000000000000000' + '00' + '0000' + '00' + '02').padEnd(128, '0'), 'bad-field'],
    ['presence with an unknown flag', '55520423' + '0000000000000004' + '00000001' + '00000003' + '04' + '00000000' + '0000', 'bad-field'],
    ['tracked with reader state 3', '55520425' + '0000000000000004' + '00000003' + '0162' + '03' + '000000000000002a' + '0000000000000032', 'bad-field'],
    ['track with a name over 32 bytes', '55520424' + '0000000000000004' + '00000003' + '21' + '61'.repeat(33), 'bad-field'],
    ['fetch of 0 datagrams', '55520420' + '0000000000000003' + '00000001' + '0000000000000001' + '00000000' + '00000000' + '00', 'bad-field'],
  ];
  for (const [name, hex, code] of cases) {
    test(name, () => {
      assert.throws(
        () => decode(Buffer.from(hex, 'hex')),
        (e: unknown) => e instanceof ProtocolError && e.code === code,
      );
    });
  }
});

describe('codec fuzz', () => {
  test('random bytes decode or are rejected with ProtocolError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1500 }), decodesOrRejects), fcOpts(5000));
  });

  test('random bytes behind a valid header decode or are rejected', () => {
    const kinds = Object.values(PacketKind);
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.uint8Array({ maxLength: 300 }), (kind, body) => {
        decodesOrRejects(Buffer.concat([Buffer.from([0x55, 0x52, 0x02, kind]), body]));
      }),
      fcOpts(20000),
    );
  });

  test('mutations of real datagrams decode or are rejected', () => {
    const real = FIXTURES.map((f) => Buffer.from(f.hex, 'hex'));
    fc.assert(
      fc.property(
        fc.constantFrom(...real),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -3, max: 3 }),
        (base, flips, resize) => {
          const b = Buffer.from(base);
          for (const [at, v] of flips) b[at % b.length] = v;
          const out = resize >= 0 ? Buffer.concat([b, Buffer.alloc(resize, 0x80)]) : b.subarray(0, Math.max(0, b.length + resize));
          decodesOrRejects(out);
        },
      ),
      fcOpts(20000),
    );
  });

  test('arbitrary data and batch packets survive a round trip', () => {
    const text = fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a));
    const name = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/);
    const data = fc.record({
      kind: fc.constant('data' as const),
      sessionId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      seq: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      entries: fc.array(fc.record({ more: fc.constant(false), continued: fc.constant(false), text }), { minLength: 1, maxLength: 20 }),
    });
    const batch = fc
      .array(fc.record({ gap: fc.integer({ min: 1, max: 1000 }), ts: fc.integer({ min: 0, max: 2 ** 45 }), from: name, text }), { maxLength: 20 })
      .map((ms) => {
        let id = 0;
        return ms.map((m) => ({ id: (id += m.gap), ts: m.ts, from: m.from, text: m.text }));
      })
      .map(
        (messages): Packet => ({
          kind: 'batch',
          sessionId: 1n,
          fetchId: 2,
          part: 0,
          lastPart: true,
          caughtUp: false,
          position: messages[0]?.id ?? 1,
          offset: 0,
          nextPosition: (messages[messages.length - 1]?.id ?? 0) + 1,
          nextOffset: 0,
          missed: 0,
          messages,
        }),
      );
    fc.assert(
      fc.property(fc.oneof(data, batch), (arb) => {
        const p = JSON.parse(JSON.stringify(arb, jsonSafe), jsonRevive) as Packet;
        assert.deepEqual(decode(encode(p)), p);
      }),
      fcOpts(3000),
    );
  });
});

/** Plain objects (fast-check builds null-prototype ones), with bigints and buffers carried through JSON. */
function jsonSafe(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return { $big: v.toString() };
  return v;
}

function jsonRevive(_key: string, v: unknown): unknown {
  if (v && typeof v === 'object' && '$big' in v) return BigInt((v as { $big: string }).$big);
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return Buffer.from((v as { data: number[] }).data);
  return v;
}
