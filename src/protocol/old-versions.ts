import { HELLO_BYTES_MIN, MAGIC_0, MAGIC_1, PROTOCOL_VERSION, PacketKind, RefuseCode } from './constants.js';
import { encode } from './encode.js';

/**
 * An older client's HELLO gets a REFUSE it can read: REFUSE's layout has not changed since version 1,
 * so it goes out with the client's version byte. It is no larger than the HELLO (padded to 64 bytes).
 */
export function refuseOldVersion(hello: Buffer): Buffer | undefined {
  const version = hello[2]!;
  if (hello.length < HELLO_BYTES_MIN || hello[0] !== MAGIC_0 || hello[1] !== MAGIC_1) return undefined;
  if (version < 1 || version >= PROTOCOL_VERSION || hello[3] !== PacketKind.Hello) return undefined;
  const nonce = hello.readUInt32BE(5); // after the header and the role byte, in every version so far
  const refuse = encode({ kind: 'refuse', nonce, code: RefuseCode.BadVersion, reason: `this server speaks protocol ${PROTOCOL_VERSION}: upgrade udp-relay` });
  refuse[2] = version;
  return refuse;
}
