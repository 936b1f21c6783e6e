import type { ClientEncryption, ServerKeys } from '../core/client/client-cipher.js';
import { formatAddress } from '../core/address.js';
import { noiseCrypto } from '../io/noise-crypto.js';
import { usage } from './command.js';
import { KnownServers, knownServersPath } from './known-servers.js';
import { parseServerKeyPin } from './server-identity.js';

export interface ClientSecurity {
  /** Absent: plain text (`--insecure-plaintext`). */
  encryption?: ClientEncryption;
  secret?: string;
}

/**
 * How a client protects its session, from its options: encrypted unless `--insecure-plaintext`; the
 * server's key pinned with `--server-key` (or RELAY_SERVER_KEY), else checked against known_servers
 * (trust on first use). A secret travels only inside the encrypted handshake.
 */
export function clientSecurity(args: { secret?: string | undefined; 'server-key'?: string | undefined; 'insecure-plaintext'?: boolean | undefined }): ClientSecurity {
  const secret = args.secret !== undefined ? { secret: args.secret } : {};
  if (args['insecure-plaintext']) {
    if (args.secret !== undefined) throw usage('--secret needs encryption: it is never sent in plain text (drop --insecure-plaintext)');
    if (args['server-key'] !== undefined) throw usage('--server-key checks an encrypted server: it goes without --insecure-plaintext');
    return {};
  }
  const pinned = args['server-key'] !== undefined ? parseServerKeyPin(args['server-key']) : undefined;
  return { encryption: { crypto: noiseCrypto, serverKeys: serverKeys(pinned) }, ...secret };
}

/** The server keys a client trusts: the pinned one, or those in known_servers (read when first needed). */
function serverKeys(pinned: string | undefined): ServerKeys {
  let known: KnownServers | undefined;
  const file = (): KnownServers => (known ??= new KnownServers(knownServersPath()));
  return {
    check: (server, key) => {
      const verdict = file().check(formatAddress(server), key, pinned);
      return verdict.ok ? undefined : verdict.error.message;
    },
    remember: (server, key) => {
      if (pinned === undefined) file().remember(formatAddress(server), key);
    },
  };
}
