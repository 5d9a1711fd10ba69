/**
 * Profiles one relay child per store under the load benchmark 10 applies (sends, then polls five
 * back) and prints where its CPU went: `node bench/profile-stores.ts [memory|sqlite|redis] [seconds]
 * [both|sends|polls] [--no-prof]`. Writes bench/stores-<store>.cpuprofile (read it with bench/profile-summary.ts),
 * and prints the relay child's CPU per request for each load (without the profiler's own cost
 * when run with --no-prof).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { RedisServer } from '../test/relay/redis-server.ts';
import { cpuMs } from './lib/cpu.ts';
import { RawHttp, sendLoadRequest } from './lib/http.ts';
import { startRelayChild } from './lib/relay.ts';
import { filler } from './lib/util.ts';

const kind = process.argv[2] ?? 'memory';
const seconds = Number(process.argv[3] ?? 5);
const loads = process.argv[4]?.startsWith('--') ? 'both' : (process.argv[4] ?? 'both');
const dir = mkdtempSync(join(tmpdir(), 'nexus-profile-stores-'));
const redis = kind === 'redis' ? await RedisServer.start() : undefined;
const store =
  kind === 'sqlite' ? `sqlite:${join(dir, 'relay.db')}` : kind === 'redis' ? redis?.url : 'memory';
const profile = process.argv.includes('--no-prof') ? undefined : `stores-${kind}`;
const relay = await startRelayChild({ store }, { profile });
const http = new RawHttp(relay.url);
try {
  const agent = await http.createSession('load');
  const url = `${relay.url}/v1/sessions/${agent.sessionId}/messages`;
  const run = async (options: autocannon.Options) => {
    const before = cpuMs(relay.pid) ?? Number.NaN;
    const result = await autocannon({ connections: 64, duration: seconds, ...options });
    const cpuUs = (((cpuMs(relay.pid) ?? Number.NaN) - before) * 1000) / result.requests.total;
    return `${Math.round(result.requests.total / result.duration)} req/s, ${cpuUs.toFixed(0)} µs CPU/request, non-2xx ${result.non2xx}`;
  };
  const sends = loads === 'polls' ? 'skipped' : await run({ url, ...sendLoadRequest(agent) });
  for (let i = 0; i < 5; i++) await http.send(agent, filler(100, i));
  const { cursor } = await http.send(agent, filler(100));
  const polls =
    loads === 'sends'
      ? 'skipped'
      : await run({
          url: `${url}?after=${Number(cursor) - 5}`,
          headers: { 'x-agent-id': agent.agentId },
        });
  console.log(`${kind}: sends ${sends}; polls ${polls}`);
} finally {
  await http.close();
  await relay.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}
