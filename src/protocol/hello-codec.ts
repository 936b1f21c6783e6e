import { BytesReader } from './bytes-reader.js';
import {
  COOKIE_BYTES,
  FromKind,
  HANDSHAKE_BYTES_MAX,
  HANDSHAKE_BYTES_MIN,
  HEADER_BYTES,
  HELLO_BYTES_MIN,
  HelloFlag,
  NAME_BYTES_MAX,
  REASON_BYTES_MAX,
  RefuseCode,
  Role,
  SERVER_KEY_BYTES,
} from './constants.js';
import { badField } from './errors.js';
import { DEFAULT_TOPIC, isValidTopic, TOPIC_BYTES_MAX } from './topics.js';
import type { Hello, Refuse, Retry, Welcome } from './packets.js';

/** Decoding of the packets that open a session: HELLO and its answers (docs/PROTOCOL.md). */

const fail = badField;

const refuseCodes = new Set<number>(Object.values(RefuseCode));

export function decodeHello(r: BytesReader): Hello {
  if (r.remaining + HEADER_BYTES < HELLO_BYTES_MIN) fail(`hello shorter than ${HELLO_BYTES_MIN} bytes`);
  const role = r.u8();
  const nonce = r.u32();
  const name = r.str8(NAME_BYTES_MAX);
  const topic = r.str8(TOPIC_BYTES_MAX);
  if (!isValidTopic(topic)) fail(`topic '${topic}'`);
  let hello: Hello;
  if (role === Role.Writer) {
    const producerId = r.u64();
    const nextSeq = r.u32();
    if (nextSeq === 0) fail('sequence numbers start at 1');
    hello = { kind: 'hello', role, nonce, name, cookie: decodeCookie(r), producerId, nextSeq };
  } else if (role === Role.Reader || role === Role.Observer) {
    const fromKind = r.u8();
    if (fromKind !== FromKind.Latest && fromKind !== FromKind.Earliest && fromKind !== FromKind.Id) {
      fail(`from kind ${fromKind}`);
    }
    const fromId = r.u64n();
    hello = { kind: 'hello', role: role as typeof Role.Reader, nonce, name, cookie: decodeCookie(r), fromKind: fromKind as FromKind, fromId };
  } else {
    return fail(`role ${role}`);
  }
  if (topic !== DEFAULT_TOPIC) hello.topic = topic;
  const handshake = decodeHandshake(r);
  if (handshake.length > 0) hello.handshake = handshake;
  if (hello.role !== Role.Writer) {
    const group = r.str8(NAME_BYTES_MAX);
    if (group.length > 0) hello.group = group;
  }
  const flags = r.u8();
  if (flags & ~HelloFlag.Unlisted) fail(`hello flags ${flags}`);
  if (flags & HelloFlag.Unlisted) hello.unlisted = true;
  // The rest is padding, and padding is zeros.
  for (const b of r.bytes(r.remaining)) if (b !== 0) fail('padding that is not zero');
  return hello;
}

function decodeCookie(r: BytesReader): Buffer {
  const n = r.u8();
  if (n !== 0 && n !== COOKIE_BYTES) fail(`cookie of ${n} bytes`);
  return Buffer.from(r.bytes(n));
}

function decodeHandshake(r: BytesReader): Buffer {
  const n = r.u16();
  if (n !== 0 && (n < HANDSHAKE_BYTES_MIN || n > HANDSHAKE_BYTES_MAX)) fail(`handshake message of ${n} bytes`);
  return Buffer.from(r.bytes(n));
}

export function decodeRetry(r: BytesReader): Retry {
  const retry: Retry = { kind: 'retry', nonce: r.u32(), cookie: decodeCookie(r) };
  const n = r.u8();
  if (n !== 0 && n !== SERVER_KEY_BYTES) fail(`server key of ${n} bytes`);
  if (n > 0) retry.serverKey = Buffer.from(r.bytes(n));
  return retry;
}

export function decodeWelcome(r: BytesReader): Welcome {
  return {
    kind: 'welcome',
    nonce: r.u32(),
    sessionId: r.u64(),
    maxMessageBytes: r.u32(),
    maxDatagramBytes: r.u16(),
    heartbeatMs: r.u32(),
    resume: r.u64n(),
    missed: r.u64n(),
  };
}

export function decodeRefuse(r: BytesReader): Refuse {
  const nonce = r.u32();
  const code = r.u8();
  if (!refuseCodes.has(code)) fail(`refuse code ${code}`);
  return { kind: 'refuse', nonce, code: code as Refuse['code'], reason: r.str8(REASON_BYTES_MAX) };
}
