/**
 * Failures are visible: waits and polls against a purpose-built faulty relay (a proxy's HTML page
 * with 200, a 500, a 429 with Retry-After) name the failing session, its code and what to do, in
 * structuredContent and text; a wait whose every session fails says so instead of timed_out.
 * Poll-all keeps within each relay's request budget and says what it skipped.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanup } from '../helpers/cleanup.js';
import { makeCore, storedSession } from '../helpers/core.js';
import { json, startFaultyServer } from '../helpers/faulty-server.js';
import { type Harness, startServer, textOf } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

interface Waited {
  messages: unknown[];
  timed_out?: boolean;
  errors?: { session: string; code: string; message: string; next: string }[];
  next: string;
}

const FAULTS = {
  'an HTML page with 200': {
    code: 'non_json_response',
    answer: (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Please log in to the hotel Wi-Fi</body></html>');
    },
  },
  'a 500': {
    code: 'internal_error',
    answer: (_req: IncomingMessage, res: ServerResponse) =>
      json(res, 500, { error: 'internal_error', message: 'boom' }),
  },
  'a 429 with Retry-After': {
    code: 'rate_limit_exceeded',
    answer: (_req: IncomingMessage, res: ServerResponse) =>
      json(
        res,
        429,
        { error: 'rate_limit_exceeded', message: 'slow down' },
        { 'retry-after': '1' },
      ),
  },
} as const;

/** Points the named sessions of a server's store at another relay. */
function moveSessions(server: Harness, aliases: string[], url: string): void {
  const file = join(server.home, 'store.json');
  const data = JSON.parse(readFileSync(file, 'utf8')) as {
    sessions: Record<string, { alias?: string; server: string }>;
  };
  for (const session of Object.values(data.sessions))
    if (session.alias && aliases.includes(session.alias)) session.server = url;
  writeFileSync(file, JSON.stringify(data));
}

describe('inbox: relay failures are reported', async () => {
  const relay = await useRelay();

  for (const [name, fault] of Object.entries(FAULTS)) {
    it(`a wait over two sessions reports the one whose relay answers ${name}`, async () => {
      const faulty = await startFaultyServer(fault.answer);
      cleanup(() => faulty.close());
      const bob = await startServer({ relayUrl: relay.url, agentId: 'bob' });
      await bob.ok('create_session', { alias: 'good' });
      await bob.ok('create_session', { alias: 'bad' });
      moveSessions(bob, ['bad'], faulty.url);

      const result = await bob.call('wait_for_messages', { timeout_seconds: 4 });
      const waited = result.structuredContent as unknown as Waited;
      expect(waited.timed_out).toBe(true);
      expect(waited.errors).toEqual([
        { session: 'bad', code: fault.code, message: expect.any(String), next: expect.any(String) },
      ]);
      expect(textOf(result)).toContain(`Could not read "bad": ${fault.code}`);

      const polled = await bob.ok<Waited>('poll_messages', {});
      expect(polled.errors?.map((error) => [error.session, error.code])).toEqual([
        ['bad', fault.code],
      ]);
    }, 30_000);
  }

  it('a wait whose every session fails says so instead of timing out', async () => {
    const faulty = await startFaultyServer(FAULTS['a 500'].answer);
    cleanup(() => faulty.close());
    const bob = await startServer({ relayUrl: relay.url, agentId: 'bob' });
    await bob.ok('create_session', { alias: 'one' });
    await bob.ok('create_session', { alias: 'two' });
    moveSessions(bob, ['one', 'two'], faulty.url);

    const result = await bob.call('wait_for_messages', { timeout_seconds: 3 });
    const waited = result.structuredContent as unknown as Waited;
    expect(waited.timed_out).toBe(false);
    expect(waited.errors?.map((error) => error.session).sort()).toEqual(['one', 'two']);
    expect(waited.next).toMatch(/^No session could be read/);
    expect(textOf(result)).toContain('every session failed');
    expect(textOf(result)).not.toContain('No reply yet');
  }, 30_000);

  it('poll-all keeps within the request budget and reports the sessions it skipped', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice', requestsPerMinute: 2 });
    for (const alias of ['s1', 's2', 's3']) await alice.manager.create({ alias });
    const first = await alice.manager.pollAll();
    expect(first.results).toHaveLength(2);
    expect(first.errors.map(({ error }) => error.code)).toEqual(['request_budget']);
    expect(first.errors[0]?.error.retryAfterMs).toBeGreaterThan(0);
  });

  it('poll-all stops asking a relay that answered 429 until its Retry-After has passed', async () => {
    const faulty = await startFaultyServer(FAULTS['a 429 with Retry-After'].answer);
    cleanup(() => faulty.close());
    const core = makeCore(faulty.url, {
      agentId: 'bob',
      client: { retry: { attempts: 1 } },
    });
    for (const id of ['a', 'b']) {
      core.store.put(storedSession({ sessionId: id.repeat(48), server: faulty.url }));
    }
    const first = await core.manager.pollAll();
    expect(first.errors.map(({ error }) => error.code)).toContain('rate_limit_exceeded');
    const asked = faulty.requests.length;
    const second = await core.manager.pollAll();
    expect(second.errors.map(({ error }) => error.code)).toEqual([
      'request_budget',
      'request_budget',
    ]);
    expect(faulty.requests.length).toBe(asked);
  });
});
