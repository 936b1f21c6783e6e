export * from './constants.js';
export * from './errors.js';
export * from './packets.js';
export * from './codec.js';
export * from './sizes.js';
export * from './names.js';
export * from './stream-framing.js';
