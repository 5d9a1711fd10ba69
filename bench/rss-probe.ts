/**
 * Row 7b's two servers side by side, for attributing the difference: our server after the
 * row's 100 calls (or `--light`: the floor's mix of sends and new-only polls), and the floor
 * server after its own, both idle for a second; VmRSS, RssAnon and RssFile of each.
 *   node --experimental-strip-types bench/rss-probe.ts [--light] [-- node flags for our server]
 */
import { RawHttp } from './lib/http.ts';
import { memoryOf, startFloor, startMcp } from './lib/mcp.ts';
import { killRelayChildren, startRelayChild } from './lib/relay.ts';
import { filler, sleep } from './lib/util.ts';

const light = process.argv.includes('--light');
const dash = process.argv.indexOf('--');
const nodeArgs = dash >= 0 ? process.argv.slice(dash + 1) : [];
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
const show = (memory: ReturnType<typeof memoryOf>) =>
  memory ? `rss ${mb(memory.rss)} (anon ${mb(memory.anon)}, file ${mb(memory.file)})` : '?';

const relay = await startRelayChild();
try {
  const text = filler(200);
  const server = await startMcp({ relayUrl: relay.url, agentId: 'rss', nodeArgs });
  await server.ok('create_session', { alias: 'rss', pair: true });
  for (let i = 1; i < 100; i++) {
    if (light) {
      if (i % 2 === 0) await server.ok('send_message', { session: 'rss', text });
      else await server.ok('poll_messages', { session: 'rss' });
    } else if (i % 3 === 0) await server.ok('list_sessions', {});
    else if (i % 3 === 1) await server.ok('send_message', { session: 'rss', text });
    else await server.ok('poll_messages', { session: 'rss', after: '0' });
  }
  await sleep(1_000);
  console.log(`ours  ${show(memoryOf(server.pid))}`);
  await server.close();
  const http = new RawHttp(relay.url);
  const floor = await startFloor(relay.url, await http.createSession('floor-rss'));
  for (let i = 1; i < 100; i++) {
    if (i % 2 === 0) await floor.ok('send_message', { session: 'floor', text });
    else await floor.ok('poll_messages', { session: 'floor' });
  }
  await sleep(1_000);
  console.log(`floor ${show(memoryOf(floor.pid))}`);
  await floor.close();
  await http.close();
} finally {
  await relay.close();
  killRelayChildren();
}
