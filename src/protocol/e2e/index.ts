export * from './base32.js';
export * from './envelope.js';
export * from './errors.js';
export * from './keys.js';
export * from './link.js';
export * from './receive.js';
export * from './replay.js';
export * from './state.js';
