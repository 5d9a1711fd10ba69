import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore, silentLogger } from '/work/wt-11/dist/core/index.js';
import { startRelay } from '/work/wt-11/dist/relay/index.js';
const relay = await startRelay({ host: '127.0.0.1', port: 0, rateLimitPerMinute: 0, log: () => {} });
const mk = (agentId) => createCore({ config: { url: relay.url, home: mkdtempSync(join(tmpdir(), 'm-')), agentId, httpTimeoutMs: 5000, pollIntervalMs: 100 }, logger: silentLogger });
const a = mk('a'), b = mk('b');
const { session, pairing } = await a.manager.create({ alias: 'x', pair: true });
await b.manager.claim({ code: pairing.code, alias: 'x' });
for (let i = 0; i < 4000; i++) { const sig = new AbortController().signal; await a.manager.send('x', { text: 'hello there '.repeat(8), signal: sig }); await b.manager.poll('x', { signal: sig }); }
process.exit(0);
