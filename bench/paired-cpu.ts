/**
 * Two builds' relays under benchmark 10's loads at the same time, for before/after figures on a
 * shared machine: both wait for the same cores, so the CPU each spends per request compares
 * fairly even when the machine's load moves between runs.
 * `node bench/paired-cpu.ts CHECKOUT_A CHECKOUT_B [memory|sqlite|redis] [seconds] [rounds]`: each
 * checkout runs its own dist/ (build both first); 32 connections per relay; relay processes'
 * CPU only (with redis, both share one redis-server under different key prefixes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { RedisServer } from '../test/relay/redis-server.ts';
import { totalCpuMs } from './lib/cpu.ts';
import { type RawAgent, RawHttp, sendLoadRequest } from './lib/http.ts';
import type { RelayChild } from './lib/relay.ts';
import { filler } from './lib/util.ts';

const [a, b, kind = 'memory', secondsArg = '3', roundsArg = '3'] = process.argv.slice(2);
if (!a || !b) {
  console.error(
    'usage: node bench/paired-cpu.ts CHECKOUT_A CHECKOUT_B [memory|sqlite|redis] [s] [n]',
  );
  process.exit(2);
}
const checkouts = [a, b];
const seconds = Number(secondsArg);
const redis = kind === 'redis' ? await RedisServer.start() : undefined;
const scratch = mkdtempSync(join(tmpdir(), 'nexus-paired-'));
type RelayModule = typeof import('./lib/relay.ts');
const relays: RelayChild[] = [];
for (const [i, dir] of checkouts.entries()) {
  const { startRelayChild } = (await import(`${dir}/bench/lib/relay.ts`)) as RelayModule;
  const store = redis
    ? { store: redis.url, redisKeyPrefix: `paired${i}:` }
    : kind === 'sqlite'
      ? { store: `sqlite:${join(scratch, `relay-${i}.db`)}` }
      : { store: 'memory' };
  relays.push(await startRelayChild(store));
}
const https = relays.map((relay) => new RawHttp(relay.url));
const agents: RawAgent[] = [];
for (const http of https) agents.push(await http.createSession('load'));
const figures = new Map<string, number[]>();
try {
  for (let round = 0; round < Number(roundsArg); round++) {
    for (const load of ['sends', 'polls'] as const) {
      const before = relays.map((relay) => totalCpuMs([relay.pid]) ?? 0);
      const results = await Promise.all(
        relays.map(async (relay, i) => {
          const agent = agents[i] as RawAgent;
          const url = `${relay.url}/v1/sessions/${agent.sessionId}/messages`;
          const common = { connections: 32, duration: seconds };
          if (load === 'sends') return autocannon({ ...common, url, ...sendLoadRequest(agent) });
          const { cursor } = await (https[i] as RawHttp).send(agent, filler(100));
          const headers = { 'x-agent-id': agent.agentId };
          return autocannon({ ...common, url: `${url}?after=${Number(cursor) - 5}`, headers });
        }),
      );
      relays.forEach((relay, i) => {
        const used = (totalCpuMs([relay.pid]) ?? 0) - (before[i] as number);
        const key = `${checkouts[i]} ${load}`;
        const total = results[i]?.requests.total ?? 0;
        figures.set(key, [...(figures.get(key) ?? []), (used * 1000) / Math.max(1, total)]);
      });
    }
  }
  for (const [key, values] of figures) {
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    console.log(
      `${key}: ${values.map((v) => v.toFixed(1)).join(' ')} µs (mean ${mean.toFixed(1)})`,
    );
  }
} finally {
  for (const http of https) await http.close();
  for (const relay of relays) await relay.close();
  await redis?.stop();
  rmSync(scratch, { recursive: true, force: true });
}
