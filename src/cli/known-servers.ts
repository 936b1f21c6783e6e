import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { userConfigDir } from './config-file.js';
import { ExitCode, UserError } from './exit-codes.js';
import { fingerprint } from './server-identity.js';

/** `known_servers` in the user's config directory. */
export function knownServersPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(userConfigDir(env), 'known_servers');
}

export type KeyVerdict = { ok: true; firstContact: boolean } | { ok: false; error: UserError };

/**
 * The keys of the servers this user has met (trust on first use, as SSH's known_hosts): one line per
 * server, `host:port base64-key`; `#` starts a comment. A server met for the first time is remembered
 * once its handshake succeeds; one whose key has changed is refused until its line is removed, as the
 * change may be someone in the middle. A key pinned with --server-key is checked instead.
 */
export class KnownServers {
  private readonly keys = new Map<string, { key: string; line: number }>();
  private lines = 0;
  /** The file's last line has no end yet: the next line written gets one first, so that it stands alone. */
  private unterminated = false;

  constructor(readonly path: string) {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`known servers ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, ExitCode.Usage);
    }
    const lines = text.split('\n');
    this.unterminated = text !== '' && !text.endsWith('\n');
    this.lines = this.unterminated ? lines.length : lines.length - 1;
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const [server, key] = line.split(/\s+/);
      if (server !== undefined && key !== undefined && !this.keys.has(server)) this.keys.set(server, { key, line: i + 1 });
    });
  }

  /** Judges the key `server` showed (`firstContact`: to be remembered once the handshake succeeds). */
  check(server: string, publicKey: Buffer, pinned?: string): KeyVerdict {
    const shown = fingerprint(publicKey);
    if (pinned !== undefined) {
      if (shown === pinned) return { ok: true, firstContact: false };
      return { ok: false, error: new UserError(`server ${server} shows key ${shown}, not the one pinned with --server-key (${pinned}): refused`, ExitCode.Refused) };
    }
    const known = this.keys.get(server);
    const key = publicKey.toString('base64');
    if (known?.key === key) return { ok: true, firstContact: false };
    if (known) {
      return {
        ok: false,
        error: new UserError(`server ${server} shows a key that CHANGED (now ${shown}); someone may be in the middle. If the server was given a new key, remove line ${known.line} of ${this.path}: refused`, ExitCode.Refused),
      };
    }
    return { ok: true, firstContact: true };
  }

  /** `server` proved it holds `publicKey` (a handshake with it succeeded): written down if it is new. */
  remember(server: string, publicKey: Buffer): void {
    if (this.keys.has(server)) return;
    const key = publicKey.toString('base64');
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    appendFileSync(this.path, `${this.unterminated ? '\n' : ''}${server} ${key}\n`, { mode: 0o600 });
    this.unterminated = false;
    this.keys.set(server, { key, line: ++this.lines });
  }
}
