export * from './errors.js';
export * from './formats.js';
export * from './guarded-json.js';
export * from './outgoing.js';
export * from './redact.js';
export * from './schemas.js';
export * from './untrusted-text.js';
