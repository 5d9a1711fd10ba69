/**
 * Row 12 without stdio, for attributing cost: two of our MCP servers (createServer over
 * createCore from dist/) driven by the SDK `Client` over `InMemoryTransport` in this process,
 * sending and polling a plain and an end-to-end encrypted session interleaved in one loop
 * against a relay child. Run it under `node --cpu-prof` and read the profile with
 * bench/profile-summary.ts.
 *
 *   node --experimental-strip-types bench/in-process-e2e.ts [rounds]
 */
import { call, median, ours, removeHomes, time, us, warmRounds } from './lib/in-process.ts';
import { killRelayChildren, startRelayChild } from './lib/relay.ts';
import { filler } from './lib/util.ts';

const rounds = Number(process.argv[2] ?? 2_000);

const relay = await startRelayChild();
try {
  const a = await ours(relay.url, 'in-a');
  const b = await ours(relay.url, 'in-b');
  for (const [alias, e2e] of [
    ['plain', false],
    ['sealed', true],
  ] as const) {
    const created = (await call(a.client, 'create_session', { alias, e2e, pair: true }))
      .structuredContent as { pairing: { link: string } };
    await call(b.client, 'claim_pairing_code', { code: created.pairing.link, alias });
    // Past the greeting and the hello, so every measured poll holds one message.
    await call(a.client, 'poll_messages', { session: alias });
    await call(b.client, 'poll_messages', { session: alias });
  }
  const text = filler(100);
  const samples = () => ({
    send: [] as number[],
    poll: [] as number[],
    sendCpu: [] as number[],
    pollCpu: [] as number[],
  });
  const plain = samples();
  const sealed = samples();
  const warm = warmRounds(rounds);
  for (let i = 0; i < rounds + warm; i++) {
    const [p, s] = i < warm ? [samples(), samples()] : [plain, sealed];
    const sendTo = (session: string) => () => call(a.client, 'send_message', { session, text });
    await time(p.send, sendTo('plain'), p.sendCpu);
    await time(p.poll, () => call(b.client, 'poll_messages', { session: 'plain' }), p.pollCpu);
    await time(s.send, sendTo('sealed'), s.sendCpu);
    const pollSealed = async () => {
      const got = (await call(b.client, 'poll_messages', { session: 'sealed' }))
        .structuredContent as { messages: { text: string }[] };
      if (got.messages.length !== 1 || got.messages[0]?.text !== text)
        throw new Error('the encrypted poll did not return the one message sent');
    };
    await time(s.poll, pollSealed, s.pollCpu);
  }
  const ratio = (x: number[], y: number[]) => (median(x) / median(y)).toFixed(2);
  console.log(
    `send ${us(sealed.send)} vs plain ${us(plain.send)} (${ratio(sealed.send, plain.send)}×); ` +
      `poll ${us(sealed.poll)} vs plain ${us(plain.poll)} (${ratio(sealed.poll, plain.poll)}×)`,
  );
  console.log(
    `cpu: send ${us(sealed.sendCpu)} vs plain ${us(plain.sendCpu)} (+${(median(sealed.sendCpu) - median(plain.sendCpu)).toFixed(0)} µs); ` +
      `poll ${us(sealed.pollCpu)} vs plain ${us(plain.pollCpu)} (+${(median(sealed.pollCpu) - median(plain.pollCpu)).toFixed(0)} µs)`,
  );
  await a.core.close();
  await b.core.close();
} finally {
  await relay.close();
  killRelayChildren();
  removeHomes();
}
