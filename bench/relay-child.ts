/**
 * A relay in a process of its own, so load generators do not share its event loop and its RSS
 * is its own. Started by bench/lib/relay.ts with the options as JSON in argv[2]; it runs the
 * real `startRelay` from dist/ and answers requests over IPC:
 *   memory   process.memoryUsage() after two full GCs (needs --expose-gc)
 *   fill     appends messages to one session through the relay's own service (the same code a
 *            send runs, minus HTTP): a quick way to hold 100 000 messages
 *   sessions creates sessions (each with a creator and N messages) the same way
 *   fillAll  adds N messages to every session `sessions` created
 * Every measured request still goes over HTTP; the hooks only fill the relay.
 */
import type * as RelayModule from '../src/relay/index.js';
import type { ChildReply, ChildRequest } from './lib/relay.ts';
import { filler, importDist } from './lib/util.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as RelayModule.RelayOptions;
const { startRelay } = await importDist<typeof RelayModule>('relay/index.js');
const relay = await startRelay({ ...options, host: '127.0.0.1', port: 0, log: () => undefined });
const live = relay.service;

const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function fill(args: {
  sessionId: string;
  agentId: string;
  sessionKey?: string;
  count: number;
  chars: number;
}): Promise<{ lastCursor: string }> {
  let lastCursor = '0';
  for (let i = 0; i < args.count; i++) {
    const sent = await live.send(args.sessionId, args.agentId, args.sessionKey, {
      text: filler(args.chars, i),
    });
    lastCursor = sent.cursor;
    if (i % 5_000 === 4_999) await yieldNow();
  }
  return { lastCursor };
}

/** Sessions the hooks created, with their creator's key, for fillAll. */
const created: { sessionId: string; sessionKey: string | undefined }[] = [];

async function sessions(args: {
  count: number;
  messages: number;
  chars: number;
}): Promise<{ created: number }> {
  for (let i = 0; i < args.count; i++) {
    const session = await live.createSession({ creatorAgentId: 'owner' });
    created.push({ sessionId: session.sessionId, sessionKey: session.sessionKey });
    for (let m = 0; m < args.messages; m++) {
      await live.send(session.sessionId, 'owner', session.sessionKey, {
        text: filler(args.chars, m),
      });
    }
    if (i % 500 === 499) await yieldNow();
  }
  return { created: args.count };
}

/** Adds `messages` messages to every session the hooks created. */
async function fillAll(args: { messages: number; chars: number }): Promise<{ sent: number }> {
  let sent = 0;
  for (const session of created) {
    for (let m = 0; m < args.messages; m++) {
      await live.send(session.sessionId, 'owner', session.sessionKey, {
        text: filler(args.chars, m),
      });
      sent++;
    }
    if (sent % 5_000 < args.messages) await yieldNow();
  }
  return { sent };
}

function memory(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage();
}

async function handle(request: ChildRequest): Promise<unknown> {
  switch (request.cmd) {
    case 'memory':
      return memory();
    case 'fill':
      return fill(request.args);
    case 'sessions':
      return sessions(request.args);
    case 'fillAll':
      return fillAll(request.args);
  }
}

process.on('message', (message: ChildRequest) => {
  handle(message).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies ChildReply),
    (error: unknown) =>
      process.send?.({ id: message.id, ok: false, error: String(error) } satisfies ChildReply),
  );
});
process.on('disconnect', () => {
  void relay.close().finally(() => process.exit(0));
});
process.send?.({ id: 0, ok: true, result: { url: relay.url } } satisfies ChildReply);
