/**
 * A COMMIT that fails for real: the built relay runs with a cap on the size of any file it writes
 * (`ulimit -f`), so its SQLite WAL fills up under a send load. Sends committed together fail
 * together; what was answered 2xx is kept, what was refused is nowhere, before and after a
 * restart.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cleanup } from '../helpers/cleanup.js';
import { tempDir } from '../helpers/core.js';
import { RelayProcess } from './relay-process.js';

const TEXT_CHARS = 4_000;

async function start(args: string[], limits?: { fileSizeLimitKib: number }) {
  const relay = await RelayProcess.start(args, limits);
  cleanup(() => relay.kill());
  return relay;
}

it('keeps every acknowledged send and none of a failed batch when the disk is full', async () => {
  const args = ['--store', `sqlite:${join(tempDir('nexus-disk-full-'), 'relay.db')}`];
  let relay = await start(args, { fileSizeLimitKib: 384 });
  const created = await relay.call('PUT', '/v1/sessions', { json: { creatorAgentId: 'alice' } });
  const sessionId = created.body.sessionId as string;
  const key = created.body.sessionKey as string;
  const send = (text: string) =>
    relay.call('POST', `/v1/sessions/${sessionId}/messages`, {
      agentId: 'alice',
      sessionKey: key,
      json: { text },
    });

  const acknowledged = new Map<number, string>();
  const refused = new Set<string>();
  let n = 0;
  const sender = async (): Promise<void> => {
    while (refused.size < 8 && n < 1_000) {
      const text = `${n++}:${'x'.repeat(TEXT_CHARS)}`;
      const reply = await send(text);
      if (reply.status === 201) acknowledged.set(Number(reply.body.cursor), text);
      else {
        expect(reply.status).toBe(503);
        expect(reply.body).toMatchObject({
          error: 'internal_error',
          message: expect.stringMatching(/cannot write/),
        });
        refused.add(text);
      }
    }
  };
  await Promise.all([sender(), sender(), sender(), sender()]);
  expect(refused.size).toBeGreaterThan(0);
  expect(acknowledged.size).toBeGreaterThan(0);

  const expectHeld = async (): Promise<void> => {
    const held = await relay.allMessages(sessionId, 'alice');
    expect(new Map(held.map((m) => [Number(m.cursor), m.text]))).toEqual(acknowledged);
  };
  // The relay that failed answers from what was committed, not from what it had taken in.
  await expectHeld();
  // One line per refused request, naming the failure, without a stack.
  expect(relay.stderr()).toMatch(/store unavailable \(request [^)]+\): disk I\/O error\n/);
  expect(relay.stderr()).not.toMatch(/internal error|\n\s+at /);
  await relay.kill();

  relay = await start(args);
  await expectHeld();
  const next = await send('after the restart');
  expect(Number(next.body.cursor)).toBe(Math.max(...acknowledged.keys()) + 1);
}, 60_000);
