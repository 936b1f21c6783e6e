import { isUtf8 } from 'node:buffer';
import type { Message } from '../core/reader/reader-core.js';
import type { PresenceEntry, TopicInfo } from '../protocol/packets.js';
import { DEFAULT_TOPIC } from '../protocol/topics.js';
import type { ReaderRender } from '../io/reader-runtime.js';

export const FORMATS = ['text', 'json', 'raw'] as const;
export type Format = (typeof FORMATS)[number];

/**
 * Control characters from other users must never reach a terminal as such: C0 (but for tab), DEL and
 * C1 become visible escapes, so no escape sequence can move the cursor, retitle or clear the screen.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

export const escapeControls = (s: string): string =>
  s.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

const pad = (n: number): string => String(n).padStart(2, '0');

/** Local time, to the second: what a person reading a log wants. */
export function localTime(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * One message as it is printed, newline included; json names the topic it was read from, and so does text
 * in a column after the time when the reader reads several (`column`).
 */
export function formatMessage(m: Message, format: Format, topic = DEFAULT_TOPIC, column = false): Buffer | string {
  switch (format) {
    case 'raw':
      return Buffer.concat([m.text, NEWLINE]);
    case 'json':
      return `${JSON.stringify({
        topic,
        id: m.id,
        ts: new Date(m.ts).toISOString(),
        from: m.from,
        ...(m.to !== undefined && { to: m.to }),
        ...(m.file !== undefined && { file: m.file }),
        // Lossless: text that is not UTF-8 travels as base64, so any log can be archived and replayed byte for byte.
        ...(isUtf8(m.text) ? { text: m.text.toString('utf8') } : { textBase64: m.text.toString('base64') }),
      })}\n`;
    case 'text': {
      const sender = m.file === undefined ? m.from : `${m.from} [${escapeControls(m.file)}]`;
      const who = m.to === undefined ? sender : `${sender} (direct to ${m.to})`;
      return `${localTime(m.ts)} ${column ? `${topic} ` : ''}${who}: ${escapeControls(m.text.toString('utf8'))}\n`;
    }
  }
}

const NEWLINE = Buffer.from('\n');

/** A package of messages as one write, so that a poll's messages appear together. */
export function formatPackage(messages: Message[], format: Format, topic = DEFAULT_TOPIC, column = false): Buffer {
  if (format === 'raw') {
    // The fast path for pipes: one buffer, texts and newlines copied in.
    let size = messages.length;
    for (const m of messages) size += m.text.length;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const m of messages) {
      at += m.text.copy(out, at);
      out[at++] = 0x0a;
    }
    return out;
  }
  return Buffer.concat(messages.map((m) => {
    const f = formatMessage(m, format, topic, column);
    return typeof f === 'string' ? Buffer.from(f, 'utf8') : f;
  }));
}

/** `--who`: one line per registered client, with the topic it is (or was last) in (names and topics are validated, so they need no escaping). */
export function formatRegistry(entries: PresenceEntry[], format: Format): string {
  const sorted = [...entries].sort((a, b) => (a.online !== b.online ? (a.online ? -1 : 1) : a.name.localeCompare(b.name)));
  if (format === 'json') {
    return sorted.map((e) => `${JSON.stringify({ name: e.name, role: e.role, online: e.online, lastSeen: new Date(e.lastSeen).toISOString(), topic: e.topic })}\n`).join('');
  }
  const width = Math.max(4, ...sorted.map((e) => e.name.length));
  return sorted
    .map((e) => `${e.name.padEnd(width)}  ${e.role.padEnd(6)}  ${(e.online ? 'online' : 'offline').padEnd(7)}  last seen ${localTime(e.lastSeen)}  in ${e.topic}\n`)
    .join('');
}

/**
 * The chat's /who: one row per person, whatever sessions they have (a chat is a writer and a reader):
 * online if any of them is, last seen at the latest.
 */
export function formatPeople(entries: PresenceEntry[]): string {
  const people = new Map<string, { online: boolean; lastSeen: number }>();
  for (const e of entries) {
    const p = people.get(e.name);
    people.set(e.name, { online: e.online || (p?.online ?? false), lastSeen: Math.max(e.lastSeen, p?.lastSeen ?? 0) });
  }
  const rows = [...people].sort(([a, x], [b, y]) => (x.online !== y.online ? (x.online ? -1 : 1) : a.localeCompare(b)));
  const width = Math.max(4, ...rows.map(([name]) => name.length));
  return rows.map(([name, p]) => `${name.padEnd(width)}  ${p.online ? 'online ' : 'offline'}  last seen ${localTime(p.lastSeen)}\n`).join('');
}

/** `--presence`: who came online or went offline, as it happens. */
export function formatPresence(changes: PresenceEntry[], format: Format): string {
  return changes
    .map((e) =>
      format === 'json'
        ? `${JSON.stringify({ event: e.online ? 'online' : 'offline', name: e.name, role: e.role, ts: new Date(e.lastSeen).toISOString(), topic: e.topic })}\n`
        : `${localTime(e.lastSeen)} * ${e.name} (${e.role}) is ${e.online ? 'online' : 'offline'} in ${e.topic}\n`,
    )
    .join('');
}

/** A reader's output in one of the formats. */
/** `--topics`: one line per topic, by name: its messages, bytes, ids kept and last write. */
export function formatTopics(topics: TopicInfo[], format: Format): string {
  const lastWrite = (t: TopicInfo) => (t.lastWrite > 0 ? new Date(t.lastWrite).toISOString() : null);
  if (format === 'json') {
    return topics
      .map((t) => `${JSON.stringify({ topic: t.topic, messages: t.messages, bytes: t.bytes, firstId: t.first, lastId: t.next - 1, lastWrite: lastWrite(t) })}\n`)
      .join('');
  }
  const rows = topics.map((t) => [t.topic, String(t.messages), String(t.bytes), t.messages > 0 ? `${t.first}-${t.next - 1}` : '-', t.lastWrite > 0 ? localTime(t.lastWrite) : '-']);
  const all = [['TOPIC', 'MESSAGES', 'BYTES', 'IDS', 'LAST WRITE'], ...rows];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`).join('');
}

/** `column`: text names each message's topic (a reader of several). */
export const renderAs = (format: Format, topic = DEFAULT_TOPIC, column = false): ReaderRender => ({
  topics: (topics) => formatTopics(topics, format),
  messages: (messages) => formatPackage(messages, format, topic, column),
  registry: (entries) => formatRegistry(entries, format),
  presence: (changes) => formatPresence(changes, format),
});
