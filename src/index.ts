/** Public API: the protocol, the sans-IO cores, the store contract. Internals stay under src/. */
export * from './protocol/index.js';
export { ServerCore, SERVER_DEFAULTS, type ServerConfig, type ServerEvent } from './core/server/server-core.js';
export { WriterCore, WRITER_DEFAULTS, type WriterConfig, type WriterEvent } from './core/writer/writer-core.js';
export { ReaderCore, READER_DEFAULTS, type ReaderConfig, type ReaderEvent, type Message } from './core/reader/reader-core.js';
// A reader of several topics (a list or patterns) runs a ReaderCore per topic; this says which.
export { TopicSubscription, SUBSCRIBED_TOPICS_MAX, type TopicsToRead } from './core/reader/topic-subscription.js';
export type { Address, Transmit } from './core/address.js';
export type * from './store/store.js';
export { MemoryStore } from './store/memory-store.js';
