/**
 * CPU per answered request of relay children (plus redis-server for Redis) under benchmark 10's
 * loads, without a profiler attached: `node bench/cpu-per-request.ts [memory|redis] [seconds]
 * [processes]`. For before/after comparisons on a shared machine: run it alternately from two
 * checkouts (each runs its own dist/) and compare the lowest and middle figures of several runs.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { RedisServer } from '../test/relay/redis-server.ts';
import { totalCpuMs } from './lib/cpu.ts';
import { RawHttp, sendLoadRequest } from './lib/http.ts';
import { type RelayChild, startRelayChild } from './lib/relay.ts';
import { filler } from './lib/util.ts';

const kind = process.argv[2] ?? 'memory';
const seconds = Number(process.argv[3] ?? 3);
const processes = Number(process.argv[4] ?? 1);
const redis = kind === 'redis' ? await RedisServer.start() : undefined;
const store = redis ? redis.url : 'memory';
const relays: RelayChild[] = [];
for (let i = 0; i < processes; i++) relays.push(await startRelayChild({ store }));
const pids = [...relays.map((relay) => relay.pid), ...(redis ? [redis.pid] : [])];
/** User-mode CPU ms of these processes (the JavaScript's share; system time is the sockets'). */
const userMs = (): number =>
  pids.reduce((sum, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return sum + Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11]) * 10;
  }, 0);
const http = new RawHttp((relays[0] as RelayChild).url);
try {
  const agent = await http.createSession('load');
  const path = `/v1/sessions/${agent.sessionId}/messages`;
  const run = async (options: Omit<autocannon.Options, 'url'>, query = '') => {
    const before = totalCpuMs(pids) ?? 0;
    const userBefore = userMs();
    const redisBefore = redis ? (totalCpuMs([redis.pid]) ?? 0) : 0;
    const results = await Promise.all(
      relays.map((relay) =>
        autocannon({
          connections: 64 / processes,
          duration: seconds,
          ...options,
          url: `${relay.url}${path}${query}`,
        }),
      ),
    );
    const after = totalCpuMs(pids) ?? 0;
    const redisUs = redis ? (totalCpuMs([redis.pid]) ?? 0) - redisBefore : 0;
    const user =
      ((userMs() - userBefore) * 1000) /
      Math.max(
        1,
        results.reduce((sum, r) => sum + r.requests.total, 0),
      );
    const total = results.reduce((sum, result) => sum + result.requests.total, 0);
    const bad = results.reduce((sum, result) => sum + result.non2xx + result.errors, 0);
    const us = ((after - before) * 1000) / total;
    const inRedis = redis ? `, redis-server ${((redisUs * 1000) / total).toFixed(1)}` : '';
    return `${us.toFixed(1)} µs (user ${user.toFixed(1)}${inRedis}, ${Math.round(total / seconds)}/s${bad ? `, ${bad} failed` : ''})`;
  };
  const sends = await run(sendLoadRequest(agent));
  const { cursor } = await http.send(agent, filler(100));
  const polls = await run(
    { headers: { 'x-agent-id': agent.agentId } },
    `?after=${Number(cursor) - 5}`,
  );
  console.log(`${kind} ×${processes}: sends ${sends}; polls ${polls}`);
} finally {
  await http.close();
  for (const relay of relays) await relay.close();
  await redis?.stop();
}
