/** A datagram that is not a valid packet: the peer's fault, never ours. Counted and dropped. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

export type ProtocolErrorCode =
  | 'truncated'
  | 'bad-magic'
  | 'bad-version'
  | 'bad-kind'
  | 'bad-field'
  | 'trailing-bytes'
  | 'too-large';

/** Throws the ProtocolError of a field that breaks its rule (the codecs' one way to refuse a field). */
export const badField = (detail: string): never => {
  throw new ProtocolError('bad-field', detail);
};
