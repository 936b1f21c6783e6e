import { ProtocolError } from './errors.js';

const TEXT = new TextDecoder('utf-8', { fatal: true });

/** The last name decoded, and its bytes: names repeat from message to message, so each is decoded once in a row. */
let lastBytes = Buffer.alloc(0);
let lastString = '';

/** Reads big-endian fields from a datagram; every read is bounds-checked and fails with ProtocolError. */
export class BytesReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): number {
    if (this.buf.length - this.pos < n) throw new ProtocolError('truncated', `need ${n} bytes at ${this.pos}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.buf[this.need(1)]!;
  }

  u16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  /** A u64 that must fit a JavaScript safe integer (log ids, counts). */
  u64n(): number {
    const at = this.need(8);
    const hi = this.buf.readUInt32BE(at);
    const lo = this.buf.readUInt32BE(at + 4);
    if (hi > 0x1fffff) throw new ProtocolError('bad-field', `u64 above 2^53 at ${at}`);
    return hi * 0x1_0000_0000 + lo;
  }

  /** A u64 kept whole (session and producer ids). */
  u64(): bigint {
    return this.buf.readBigUInt64BE(this.need(8));
  }

  /** Unsigned LEB128, at most 8 bytes, value at most 2^53 - 1. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new ProtocolError('bad-field', 'non-minimal varint');
        if (result > Number.MAX_SAFE_INTEGER) throw new ProtocolError('bad-field', 'varint above 2^53');
        return result;
      }
      scale *= 128;
    }
    throw new ProtocolError('bad-field', 'varint longer than 8 bytes');
  }

  /** Zig-zag signed varint. */
  svarint(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  bytes(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  /** u8 length, then UTF-8 text of that many bytes (strict decoding). */
  str8(maxBytes: number): string {
    const n = this.u8();
    if (n > maxBytes) throw new ProtocolError('bad-field', `string of ${n} bytes over ${maxBytes}`);
    const at = this.need(n);
    const buf = this.buf;
    // Stryker disable next-line all: a cache; without it every name is decoded, to the same string.
    if (n === lastBytes.length) {
      let i = 0;
      // Stryker disable next-line ConditionalExpression,UpdateOperator: stopping early only misses the cache.
      while (i < n && buf[at + i] === lastBytes[i]) i++;
      // Stryker disable next-line ConditionalExpression: a cache miss decodes the same string.
      if (i === n) return lastString;
    }
    let s: string;
    try {
      s = TEXT.decode(buf.subarray(at, at + n));
    } catch {
      throw new ProtocolError('bad-field', 'string is not valid UTF-8');
    }
    lastBytes = Buffer.from(buf.subarray(at, at + n));
    lastString = s;
    return s;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw new ProtocolError('trailing-bytes', `${this.remaining} bytes after packet`);
  }
}
