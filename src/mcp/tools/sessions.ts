/** Tools that create, join, inspect, renew, name and leave sessions. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { type Core, clientError } from '../../core/index.js';
import { cut, MAX_TTL_SECONDS, MIN_TTL_SECONDS, oneLine } from '../../protocol/index.js';
import { ANNOTATIONS, defineTool } from '../define.js';
import {
  E2eOut,
  e2eLine,
  e2eOut,
  errorLine,
  memberIds,
  membersText,
  ok,
  SessionRefOut,
  sessionRef,
  showAgent,
} from '../render.js';
import { boundedInt, refusalText } from '../schema-parts.js';
import {
  JoinedOut,
  joinedResult,
  PairingOut,
  pairingOut,
  RejoinedOut,
  rejoinedLine,
  rejoinedOut,
  serverArg,
  sessionArg,
} from './shared.js';

/**
 * The protocol's bounds (minimum 60, relay maximum 86400 by default) are what models are told;
 * smaller values still go to the relay, whose refusal names the field, so it is the one judge.
 */
const ttlArg = z
  .number()
  .int(refusalText('ttl_seconds', 'must be a whole number of seconds'))
  .min(1, refusalText('ttl_seconds', `must be at least ${MIN_TTL_SECONDS}`))
  .meta({ minimum: MIN_TTL_SECONDS, maximum: MAX_TTL_SECONDS })
  .describe(
    `Session lifetime in seconds, reset by every send and poll (${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS}, default 3660; relays clamp values above their maximum)`,
  );

export function registerSessionTools(server: McpServer, core: Core): void {
  const target = { server, logger: core.logger };
  const { manager } = core;

  defineTool(
    target,
    'create_session',
    {
      title: 'Create a session',
      description:
        'Create a new conversation session on the relay and join it as its creator. By default also returns a pairing code and a link: give the link to the user so they can hand it to the other agent. Then call wait_for_messages. With e2e: true the session is end-to-end encrypted: the relay carries only ciphertext, and the link carries the key after #.',
      inputSchema: {
        ttl_seconds: ttlArg.optional(),
        max_agents: boundedInt('max_agents', 2, 50)
          .optional()
          .describe('Most agents allowed in the session (relay default 50)'),
        greeting: z
          .string()
          .max(4000)
          .optional()
          .describe('A first message every joiner sees, e.g. what the conversation is about'),
        agent_id: z
          .string()
          .optional()
          .describe(
            "Agent id to speak as (letters, digits, - and _); default: this install's agent id",
          ),
        alias: z
          .string()
          .optional()
          .describe('A local name for the session, used instead of its id in later calls'),
        pair: z
          .boolean()
          .default(true)
          .describe('Also create a pairing code and link (default true)'),
        e2e: z
          .boolean()
          .optional()
          .describe(
            'End-to-end encrypt the session: the relay stores only ciphertext; the greeting goes encrypted too. Default: off, unless the human set NEXUS_E2E=on',
          ),
        server: serverArg.describe(
          'Relay URL to create the session on; default: the configured relay',
        ),
      },
      outputSchema: {
        session: SessionRefOut,
        ttl_seconds: z.number(),
        max_agents: z.number(),
        expires_at: z.string().optional(),
        pairing: PairingOut.optional(),
        pairing_error: z.object({ code: z.string(), message: z.string() }).optional(),
        e2e: E2eOut.optional(),
        greeting_error: z
          .object({ code: z.string(), message: z.string() })
          .optional()
          .describe('The encrypted greeting could not be sent: send it with send_message'),
        next: z.string(),
      },
      annotations: ANNOTATIONS.create,
    },
    async (args, extra) => {
      const created = await manager.create({
        ...(args.ttl_seconds !== undefined && { ttl: args.ttl_seconds }),
        ...(args.max_agents !== undefined && { maxAgents: args.max_agents }),
        ...(args.greeting !== undefined && { greeting: args.greeting }),
        ...(args.agent_id !== undefined && { agentId: args.agent_id }),
        ...(args.alias !== undefined && { alias: args.alias }),
        ...(args.server !== undefined && { server: args.server }),
        pair: args.pair,
        ...(args.e2e !== undefined && { e2e: args.e2e }),
        signal: extra.signal,
      });
      const pairing = created.pairing ? pairingOut(created.pairing) : undefined;
      const e2e = e2eOut(created.session);
      // An encrypted session's link holds its key: it stays in `link` and share_text.
      const next = pairing
        ? e2e
          ? `Give the user the link (or share_text) to forward to the other agent, whole and only through them — then call wait_for_messages with session "${created.session.label}".`
          : `Give the user this link to forward to the other agent: ${pairing.link} — then call wait_for_messages with session "${created.session.label}".`
        : `Call create_pairing_code for session "${created.session.label}" when the user wants to invite someone.`;
      const structured = {
        session: sessionRef(created.session),
        ttl_seconds: created.ttl,
        max_agents: created.maxAgents,
        ...(created.expiresAt !== undefined && { expires_at: created.expiresAt }),
        ...(pairing && { pairing }),
        ...(created.pairingError && {
          pairing_error: { code: created.pairingError.code, message: created.pairingError.message },
        }),
        ...(e2e && { e2e }),
        ...(created.greetingError && {
          greeting_error: {
            code: created.greetingError.code,
            message: errorLine(created.greetingError.message),
          },
        }),
        next,
      };
      const lines = [
        `Created session "${created.session.label}" on ${created.session.server} as ${created.session.agentId} (ttl ${created.ttl}s, up to ${created.maxAgents} agents).`,
        ...(pairing
          ? [
              `Pairing code ${pairing.code}, link ${pairing.link}${pairing.expires_at ? ` (valid until ${pairing.expires_at})` : ''}.`,
            ]
          : []),
        ...(created.pairingError
          ? [
              `The pairing code could not be created (${created.pairingError.code}); call create_pairing_code to retry.`,
            ]
          : []),
        ...(e2e ? [e2eLine(created.session)] : []),
        ...(created.greetingError
          ? [
              `The encrypted greeting could not be sent (${created.greetingError.code}); send it with send_message.`,
            ]
          : []),
        `Next: ${next}`,
      ];
      return ok(structured, lines.join('\n'));
    },
  );

  defineTool(
    target,
    'join_session',
    {
      title: 'Join a session by id, or join one of yours again',
      description:
        "Join a session whose full id someone gave you, or join a local session again (by alias or short id) after this agent was removed from it: the read position is kept, so nothing sent meanwhile is missed. With agent_id, a local session is joined under that id, replacing this install's membership. Prefer claim_pairing_code when you have a pairing code or link. Returns the greeting, if the creator set one. An id followed by #e2e=1.… carries the key of an encrypted session: pass it whole (the key stays on this machine); joining again with it attaches a missing key.",
      inputSchema: {
        session_id: z
          .string()
          .min(1)
          .describe(
            'A full session id (with its #e2e=… part when it has one), or a local session to join again: its alias or short id (8+ characters of the id)',
          ),
        server: serverArg.describe(
          'Relay URL the session lives on (full ids only); default: the configured relay, or the relay a local session is bound to',
        ),
        agent_id: z
          .string()
          .optional()
          .describe(
            "Agent id to speak as; default: this install's agent id (for a local session: the id it holds)",
          ),
        alias: z.string().optional().describe('A local name for the session'),
      },
      outputSchema: JoinedOut,
      annotations: ANNOTATIONS.update,
    },
    async (args, extra) => {
      const joined = await manager.join({
        sessionId: args.session_id,
        ...(args.server !== undefined && { server: args.server }),
        ...(args.agent_id !== undefined && { agentId: args.agent_id }),
        ...(args.alias !== undefined && { alias: args.alias }),
        signal: extra.signal,
      });
      return joinedResult(
        joined,
        joined.alreadyJoined ? 'Already a member of' : joined.rejoined ? 'Rejoined' : 'Joined',
      );
    },
  );

  defineTool(
    target,
    'get_session_status',
    {
      title: 'Session status',
      description:
        "Ask the relay for a session's state, members and expiry, and whether this agent is still a member. Works for a full session id this install does not hold, too.",
      inputSchema: {
        session: sessionArg,
        server: serverArg.describe(
          'Relay to ask, for a full session id this install does not hold; default: the configured relay',
        ),
      },
      outputSchema: {
        session: SessionRefOut.optional().describe(
          'Absent for a session this install does not hold',
        ),
        label: z.string().describe('The session: its alias, else its short id'),
        state: z.string(),
        members: z.array(z.string()),
        joined: z.boolean().describe('Whether this agent is a member'),
        joined_as: z.string().optional(),
        creator: z.string().optional(),
        ttl_seconds: z.number(),
        max_agents: z.number(),
        expires_at: z.string().optional(),
        rejoined: RejoinedOut.optional(),
        e2e: E2eOut.optional(),
      },
      annotations: ANNOTATIONS.query,
    },
    async (args, extra) => {
      const status = await manager.status(args.session, extra.signal, args.server);
      const rejoined = status.rejoined && rejoinedOut(status.label, status.rejoined);
      const e2e = status.session && e2eOut(status.session);
      const structured = {
        ...(status.session && { session: sessionRef(status.session) }),
        label: status.label,
        state: cut(oneLine(status.state), 40),
        members: memberIds(status.members),
        joined: status.joined,
        ...(status.session && { joined_as: status.session.agentId }),
        ...(status.creatorAgentId !== undefined && { creator: showAgent(status.creatorAgentId) }),
        ttl_seconds: status.ttl,
        max_agents: status.maxAgents,
        ...(status.expiresAt !== undefined && { expires_at: status.expiresAt }),
        ...(rejoined && { rejoined }),
        ...(e2e && { e2e }),
      };
      const text = [
        ...(rejoined ? [rejoinedLine(rejoined)] : []),
        `Session "${status.label}" on ${status.server} is ${cut(oneLine(status.state), 40)}${status.expiresAt ? ` until ${status.expiresAt}` : ''} (ttl ${status.ttl}s, sliding).`,
        `Members (${status.members.length}/${status.maxAgents}): ${membersText(status.members) || 'none'}.`,
        !status.session
          ? 'This install does not hold this session: join_session with the full id, or claim a pairing code, to take part.'
          : status.joined
            ? `You are a member as ${status.session.agentId}.`
            : `You (${status.session.agentId}) are no longer a member: call join_session with session_id "${status.label}" to join again (the read position is kept).`,
        ...(e2e && status.session ? [e2eLine(status.session)] : []),
      ].join('\n');
      return ok(structured, text);
    },
  );

  defineTool(
    target,
    'leave_session',
    {
      title: 'Leave a session',
      description:
        "Leave a session and forget it locally. The creator of a session cannot leave it on the relay: with forget: true any session (a creator's too) is dropped from this install without asking the relay, and it ends on the relay when its TTL runs out without activity.",
      inputSchema: {
        session: sessionArg,
        forget: z
          .boolean()
          .optional()
          .describe(
            'Only drop the session from this install, without a relay call (the way for a creator who is done with a session)',
          ),
      },
      outputSchema: {
        session: SessionRefOut,
        outcome: z.enum(['removed', 'already_gone', 'forgotten']),
        next: z.string(),
      },
      annotations: ANNOTATIONS.remove,
    },
    async (args, extra) => {
      const left = await manager.leave(args.session, {
        ...(args.forget !== undefined && { forget: args.forget }),
        signal: extra.signal,
      });
      const next = 'Nothing more to do for this session; list_sessions shows the ones left.';
      const text = {
        removed: `Left session "${left.session.label}"; it is removed from the local store.`,
        already_gone: `Session "${left.session.label}" was already gone on the relay (expired, or this agent was no longer a member); it is removed from the local store.`,
        forgotten: `Forgot session "${left.session.label}": it is removed from the local store; on the relay it ends when its TTL runs out without activity.`,
      }[left.outcome];
      return ok({ session: sessionRef(left.session), outcome: left.outcome, next }, text);
    },
  );

  defineTool(
    target,
    'renew_session',
    {
      title: 'Renew a session',
      description:
        "Reset a session's expiry (optionally with a new TTL). Sends and polls renew it too; use this for quiet periods.",
      inputSchema: { session: sessionArg, ttl_seconds: ttlArg.optional() },
      outputSchema: {
        session: SessionRefOut,
        ttl_seconds: z.number(),
        expires_at: z.string(),
        rejoined: RejoinedOut.optional(),
      },
      annotations: ANNOTATIONS.update,
    },
    async (args, extra) => {
      const renewed = await manager.renew(args.session, args.ttl_seconds, extra.signal);
      const rejoined = renewed.rejoined && rejoinedOut(renewed.session.label, renewed.rejoined);
      return ok(
        {
          session: sessionRef(renewed.session),
          ttl_seconds: renewed.ttl,
          expires_at: renewed.expiresAt,
          ...(rejoined && { rejoined }),
        },
        [
          ...(rejoined ? [rejoinedLine(rejoined)] : []),
          `Session "${renewed.session.label}" now expires at ${renewed.expiresAt} (ttl ${renewed.ttl}s).`,
        ].join('\n'),
      );
    },
  );

  defineTool(
    target,
    'list_sessions',
    {
      title: 'List sessions',
      description:
        'The sessions this agent is in, each checked against its own relay: alias, short id, agent id, relay, role, cursor and live status.',
      inputSchema: {},
      outputSchema: {
        sessions: z.array(
          SessionRefOut.extend({
            cursor: z.string(),
            live: z.enum(['active', 'not_found', 'unreachable', 'error']),
            member: z.boolean().optional(),
            members: z.array(z.string()).optional(),
            expires_at: z.string().optional(),
            error: z.string().optional(),
            e2e: E2eOut.optional(),
          }),
        ),
        count: z.number(),
        next: z.string(),
      },
      annotations: ANNOTATIONS.query,
    },
    async (_args, extra) => {
      const entries = await manager.list({ signal: extra.signal });
      const sessions = entries.map((entry) => ({
        ...sessionRef(entry.session),
        cursor: entry.session.cursor,
        live: entry.live,
        ...(entry.member !== undefined && { member: entry.member }),
        ...(entry.members !== undefined && { members: memberIds(entry.members) }),
        ...(entry.expiresAt !== undefined && { expires_at: entry.expiresAt }),
        ...(entry.error !== undefined && { error: errorLine(entry.error) }),
        ...(entry.session.e2e && { e2e: e2eOut(entry.session) }),
      }));
      const lost = sessions.find((s) => s.member === false && s.live === 'active');
      const next = lost
        ? `This agent is no longer a member of "${lost.session}": join_session with session_id "${lost.session}" joins it again, keeping the read position.`
        : sessions.length
          ? "Use a session's name (alias or short id) in other tools; wait_for_messages without a session waits on all of them."
          : 'No local sessions: create_session starts one, claim_pairing_code joins one.';
      const text = sessions.length
        ? sessions
            .map(
              (s) =>
                `- ${s.session}${s.alias ? ` (${s.short_id})` : ''}: ${s.live === 'not_found' ? 'expired' : s.live}${s.member === false ? ', no longer a member' : ''}; ${s.role} as ${s.agent_id} on ${s.server}; cursor ${s.cursor}${s.members ? `; members ${s.members.map(showAgent).join(', ')}` : ''}${s.e2e ? `; end-to-end encrypted (key ${s.e2e.key})` : ''}`,
            )
            .join('\n')
        : 'No sessions.';
      return ok({ sessions, count: sessions.length, next }, `${text}\nNext: ${next}`);
    },
  );

  defineTool(
    target,
    'set_session_alias',
    {
      title: 'Name a session, or re-bind its relay',
      description:
        "Give a session a local alias to use instead of its id, change it, or clear it (empty alias). With server, bind the session to another relay URL (the same session there, e.g. after the relay moved); the session's key and read position are kept.",
      inputSchema: {
        session: sessionArg,
        alias: z
          .string()
          .optional()
          .describe(
            'The new alias (letters, digits, ".", "_", "-"); empty clears it; omit to keep it',
          ),
        server: serverArg.describe(
          'Bind the session to this relay URL from now on (the same session id must live there)',
        ),
      },
      outputSchema: {
        session: SessionRefOut,
        alias: z.string().optional().describe('The alias now; absent when there is none'),
        previous: z.string().optional().describe('The alias before; absent when there was none'),
        previous_server: z
          .string()
          .optional()
          .describe('The relay the session was bound to before, when server changed it'),
      },
      annotations: ANNOTATIONS.local,
    },
    async (args) => {
      if (args.alias === undefined && args.server === undefined) {
        throw clientError('invalid_argument', 'Give alias, server, or both.');
      }
      const before = manager.resolve(args.session);
      const previous = before.alias;
      let updated = args.server === undefined ? before : manager.rebind(args.session, args.server);
      if (args.alias !== undefined) updated = manager.setAlias(updated.sessionId, args.alias);
      const alias = updated.alias;
      const rebound = updated.server !== before.server;
      const lines = [
        args.alias === undefined
          ? ''
          : alias
            ? `Session ${updated.shortId} is now called "${alias}"${previous && previous !== alias ? ` (was "${previous}")` : ''}.`
            : `Session ${updated.shortId} has no alias now${previous ? ` (was "${previous}")` : ''}.`,
        rebound
          ? `Session "${updated.label}" is now bound to ${updated.server} (was ${before.server}).`
          : args.server === undefined
            ? ''
            : `Session "${updated.label}" was already bound to ${updated.server}.`,
      ].filter(Boolean);
      return ok(
        {
          session: sessionRef(updated),
          ...(alias !== undefined && { alias }),
          ...(previous !== undefined && { previous }),
          ...(rebound && { previous_server: before.server }),
        },
        lines.join('\n'),
      );
    },
  );
}
