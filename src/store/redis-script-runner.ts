import { createHash } from 'node:crypto';
import { RESP_TYPES, SimpleError, type createClient } from '@redis/client';
import { APPEND, CLAIM, FORGET, INIT, MARKS, READ, RELEASE, RENEW, TRIM } from './redis-scripts.js';

type Client = ReturnType<typeof createClient>;
const BINARY = { [RESP_TYPES.BLOB_STRING]: Buffer };

/** A Lua script run by its SHA1, sent whole again when Redis has forgotten it (after a restart). */
class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Puts the script in Redis's cache, so that EVALSHA finds it. */
  async load(client: Client): Promise<void> {
    await client.sendCommand(['SCRIPT', 'LOAD', this.source]);
  }

  async run(client: Client, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(['EVALSHA', this.sha, ...tail], { typeMapping: BINARY });
    } catch (e) {
      if (!(e instanceof SimpleError) || !e.message.startsWith('NOSCRIPT')) throw e;
      return client.sendCommand(['EVAL', this.source, ...tail], { typeMapping: BINARY });
    }
  }
}

export const scripts = {
  append: new Script(APPEND),
  read: new Script(READ),
  trim: new Script(TRIM),
  init: new Script(INIT),
  claim: new Script(CLAIM),
  renew: new Script(RENEW),
  release: new Script(RELEASE),
  forget: new Script(FORGET),
  marks: new Script(MARKS),
};

/**
 * Loads every script before the store is used. Without it, a script's first EVALSHA fails (NOSCRIPT) and
 * is sent again as EVAL: calls made after it, already on the wire, run first, and the store's calls would
 * not apply in the order they were made (a name released and claimed again in one turn would be claimed
 * before it is released). After Redis restarts empty of scripts the fallback still runs, once per script.
 */
export async function loadScripts(client: Client): Promise<void> {
  await Promise.all(Object.values(scripts).map((s) => s.load(client)));
}

/** A flat reply of field, value, field, value… as pairs. */
export function pairsOf(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** A flat reply of field, value… (values binary) as a record. */
export function fieldsOf(flat: Buffer[]): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!.toString()] = flat[i + 1]!;
  return out;
}
