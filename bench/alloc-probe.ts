/**
 * Row 7b's cause, measured: how much each call allocates in V8's young generation, in our
 * server and in the floor server, both spawned over stdio as row 7 does. A server's idle RSS
 * holds the young-generation pages filled since its last scavenge, so the more a burst of calls
 * allocates, the larger (and the more varied, by where the burst stops) the idle figure.
 *
 *   node --experimental-strip-types bench/alloc-probe.ts
 *
 * Each figure is the young generation's growth over a window of calls with no GC in it (read
 * through bench/lib/heap-hook.mjs, loaded with --import), divided by the calls; "first use" is
 * what the first call after `initialize` (create_session) allocates.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawHttp } from './lib/http.ts';
import { type McpServer, startFloor, startMcp } from './lib/mcp.ts';
import { startRelayChild } from './lib/relay.ts';
import { filler, sleep } from './lib/util.ts';

const hook = ['--import', fileURLToPath(new URL('./lib/heap-hook.mjs', import.meta.url))];
const text = filler(200);

async function heap(pid: number): Promise<{ gcs: number; young: number }> {
  process.kill(pid, 'SIGUSR2');
  await sleep(150);
  return JSON.parse(readFileSync(join(tmpdir(), `nexus-heap-${pid}.json`), 'utf8'));
}

async function perCall(label: string, server: McpServer, call: () => Promise<unknown>, calls = 20) {
  for (let i = 0; i < 40; i++) await call();
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await heap(server.pid);
    for (let i = 0; i < calls; i++) await call();
    const after = await heap(server.pid);
    if (after.gcs === before.gcs) {
      console.log(
        `${label.padEnd(40)} ${((after.young - before.young) / calls / 1024).toFixed(1)} KB a call`,
      );
      return;
    }
  }
  console.log(`${label.padEnd(40)} a GC in every window`);
}

const relay = await startRelayChild();
try {
  const ours = await startMcp({ relayUrl: relay.url, agentId: 'alloc', nodeArgs: hook });
  const start = await heap(ours.pid);
  await ours.ok('create_session', { alias: 'a', pair: true });
  const first = await heap(ours.pid);
  console.log(
    `${'ours: first call (create_session)'.padEnd(40)} ${first.gcs === start.gcs ? `${((first.young - start.young) / 1048576).toFixed(1)} MB` : 'a GC ran: not measured'}`,
  );
  await perCall('ours: send_message', ours, () => ours.ok('send_message', { session: 'a', text }));
  await perCall('ours: poll_messages (nothing new)', ours, () =>
    ours.ok('poll_messages', { session: 'a' }),
  );
  await perCall('ours: list_sessions', ours, () => ours.ok('list_sessions', {}));
  await perCall(
    'ours: poll_messages after 0 (50 messages)',
    ours,
    () => ours.ok('poll_messages', { session: 'a', after: '0' }),
    4,
  );
  await ours.close();

  const http = new RawHttp(relay.url);
  const floor = await startFloor(relay.url, await http.createSession('alloc-floor'), hook);
  await perCall('floor: send_message', floor, () =>
    floor.ok('send_message', { session: 'floor', text }),
  );
  await perCall('floor: poll_messages (nothing new)', floor, () =>
    floor.ok('poll_messages', { session: 'floor' }),
  );
  await floor.close();
  await http.close();
} finally {
  await relay.close();
}
