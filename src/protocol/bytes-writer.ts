/** Writes big-endian fields into a growable buffer. Only our own packets pass through here. */
export class BytesWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  get length(): number {
    return this.pos;
  }

  private room(n: number): number {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1);
    this.buf[at] = v;
    return this;
  }

  u16(v: number): this {
    const at = this.room(2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }

  u32(v: number): this {
    const at = this.room(4);
    this.buf.writeUInt32BE(v >>> 0, at);
    return this;
  }

  u64n(v: number): this {
    const at = this.room(8);
    this.buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), at);
    this.buf.writeUInt32BE(v >>> 0, at + 4);
    return this;
  }

  u64(v: bigint): this {
    const at = this.room(8);
    this.buf.writeBigUInt64BE(v, at);
    return this;
  }

  varint(v: number): this {
    let rest = v;
    while (rest >= 0x80) {
      const at = this.room(1);
      this.buf[at] = (rest % 128) | 0x80;
      rest = Math.floor(rest / 128);
    }
    const last = this.room(1);
    this.buf[last] = rest;
    return this;
  }

  svarint(v: number): this {
    return this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  bytes(b: Uint8Array): this {
    const n = b.length;
    const at = this.room(n);
    const buf = this.buf;
    // Most lines are short; a loop copies a few bytes faster than a call into the runtime.
    // Stryker disable next-line all: both ways copy the same bytes.
    if (n <= 32) {
      for (let i = 0; i < n; i++) buf[at + i] = b[i]!;
    } else {
      buf.set(b, at);
    }
    return this;
  }

  str8(s: string): this {
    // Names repeat from message to message: encode each once in a row.
    // Stryker disable next-line ConditionalExpression: a cache; encoding again gives the same bytes.
    if (s !== lastString) {
      lastString = s;
      lastBytes = Buffer.from(s, 'utf8');
    }
    return this.u8(lastBytes.length).bytes(lastBytes);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** The last name encoded, and its bytes (see str8). */
let lastString = '';
let lastBytes = Buffer.alloc(0);

export const varintBytes = (v: number): number => {
  let n = 1;
  let rest = v;
  while (rest >= 0x80) {
    rest = Math.floor(rest / 128);
    n++;
  }
  return n;
};
