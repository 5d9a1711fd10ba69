/** The terminal commands: for a human at a terminal, where stdout is theirs. */
export * from './doctor.js';
export * from './import-cli.js';
export * from './set-url.js';
