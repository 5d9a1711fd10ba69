/**
 * 9: relay memory. RSS of a relay child (after two full GCs) when empty, with 10 000 sessions,
 * then with 20 messages of 100 characters in each; reported per session and per message.
 */
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtBytes, fmtCount, fmtRatio } from '../lib/report.ts';

const FULL_SESSIONS = 10_000;
const QUICK_SESSIONS = 2_000;
const MESSAGES = 20;
const CHARS = 100;

export const relayMemory: Benchmark = async (ctx) => {
  const SESSIONS = ctx.quick ? QUICK_SESSIONS : FULL_SESSIONS;
  const relay = await startRelayChild({ maxMessagesPerSession: 1_000 });
  try {
    const empty = await relay.memory();
    await relay.call('sessions', { count: SESSIONS, messages: 0, chars: CHARS });
    const withSessions = await relay.memory();
    await relay.call('fillAll', { messages: MESSAGES, chars: CHARS });
    const full = await relay.memory();
    const perSession = (withSessions.rss - empty.rss) / SESSIONS;
    const perMessage = (full.rss - withSessions.rss) / (SESSIONS * MESSAGES);
    const heapPerSession = (withSessions.heapUsed - empty.heapUsed) / SESSIONS;
    const heapPerMessage = (full.heapUsed - withSessions.heapUsed) / (SESSIONS * MESSAGES);
    ctx.log(
      `  rss empty ${fmtBytes(empty.rss)}, sessions ${fmtBytes(withSessions.rss)}, full ${fmtBytes(full.rss)}`,
    );
    return [
      {
        id: '9',
        what: `relay memory, ${fmtCount(SESSIONS)} sessions × ${MESSAGES} messages (${CHARS} chars)`,
        figure: `RSS ${fmtBytes(full.rss)}: ${fmtBytes(perSession)}/session + ${fmtBytes(perMessage)}/message`,
        baseline: `empty relay RSS ${fmtBytes(empty.rss)}`,
        ratio: fmtRatio(full.rss / empty.rss),
        target: 'reported',
        met: null,
        note: `heap only: ${fmtBytes(heapPerSession)}/session, ${fmtBytes(heapPerMessage)}/message; ${fmtCount(SESSIONS)} sessions alone: RSS ${fmtBytes(withSessions.rss)}; every RSS here includes ~18 MB for Node's TypeScript stripper, which runs the bench child (the differences do not)`,
        data: {
          figure: full,
          withSessions,
          baseline: empty,
          ratio: full.rss / empty.rss,
          rssPerSessionBytes: perSession,
          rssPerMessageBytes: perMessage,
          heapPerSessionBytes: heapPerSession,
          heapPerMessageBytes: heapPerMessage,
          sessions: SESSIONS,
          messagesPerSession: MESSAGES,
          chars: CHARS,
        },
      },
    ];
  } finally {
    await relay.close();
  }
};
