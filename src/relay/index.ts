/** The relay's programmatic API: what the CLI, the tests, the demo and the benchmarks use. */

export { redactJson, redactSecrets } from '../protocol/redact.js';
export { createRelayApp, type RelayApplication } from './app.js';
export type { Clock } from './clock.js';
export { loadRelayOptionsFromEnv } from './env.js';
export type { RelayOptions } from './options.js';
export { type RunningRelay, startRelay } from './server.js';
export type { RelayStorage } from './storage.js';
export { StoreRefused } from './store-errors.js';
