import type { BytesReader } from './bytes-reader.js';
import type { BytesWriter } from './bytes-writer.js';
import { HEADER_BYTES } from './constants.js';
import { badField } from './errors.js';
import type { TopicInfo, TopicList, Topics } from './packets.js';
import { isValidTopic, TOPIC_BYTES_MAX } from './topics.js';

/** Listing topics on the wire: TOPICS asks, TOPIC_LIST answers a page. Layouts: docs/PROTOCOL.md. */

const MORE = 0x01;
export const TOPIC_LIST_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 1 + 1;
/** One entry: its name, then messages, bytes, first id, next id, last write (ms). */
export const topicInfoBytes = (t: TopicInfo): number => 1 + Buffer.byteLength(t.topic) + 5 * 8;
export const TOPIC_INFO_BYTES_MAX = 1 + TOPIC_BYTES_MAX + 5 * 8;

const readTopic = (r: BytesReader, emptyOk: boolean): string => {
  const t = r.str8(TOPIC_BYTES_MAX);
  if (!(emptyOk && t === '') && !isValidTopic(t)) badField(`topic '${t}'`);
  return t;
};

export function decodeTopics(r: BytesReader): Topics {
  return { kind: 'topics', sessionId: r.u64(), requestId: r.u32(), after: readTopic(r, true) };
}

export function decodeTopicList(r: BytesReader): TopicList {
  const sessionId = r.u64();
  const requestId = r.u32();
  const flags = r.u8();
  if (flags & ~MORE) badField(`topic list flags ${flags}`);
  const count = r.u8();
  const topics: TopicInfo[] = [];
  for (let i = 0; i < count; i++) {
    const topic = readTopic(r, false);
    if (i > 0 && topic <= topics[i - 1]!.topic) badField('topics out of order');
    topics.push({ topic, messages: r.u64n(), bytes: r.u64n(), first: r.u64n(), next: r.u64n(), lastWrite: r.u64n() });
  }
  return { kind: 'topic-list', sessionId, requestId, more: (flags & MORE) !== 0, topics };
}

/** TOPICS after its header (written by the caller into `w`). */
export function encodeTopics(w: BytesWriter, p: Topics): Buffer {
  return w.u64(p.sessionId).u32(p.requestId).str8(p.after).finish();
}

export const topicListBytes = (p: TopicList): number => TOPIC_LIST_HEADER_BYTES + p.topics.reduce((n, t) => n + topicInfoBytes(t), 0);

export function encodeTopicList(w: BytesWriter, p: TopicList): Buffer {
  w.u64(p.sessionId)
    .u32(p.requestId)
    .u8(p.more ? MORE : 0)
    .u8(p.topics.length);
  for (const t of p.topics) w.str8(t.topic).u64n(t.messages).u64n(t.bytes).u64n(t.first).u64n(t.next).u64n(t.lastWrite);
  return w.finish();
}
