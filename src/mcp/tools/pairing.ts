/** Tools for pairing: a short code or link a human hands to the other side. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Core } from '../../core/index.js';
import { ANNOTATIONS, defineTool } from '../define.js';
import { ok, SessionRefOut, sessionRef } from '../render.js';
import {
  JoinedOut,
  joinedResult,
  PairingOut,
  pairingOut,
  serverArg,
  sessionArg,
} from './shared.js';

const codeArg = z
  .string()
  .min(1)
  .describe(
    'A pairing code such as PEARL-FOCAL-S5SJV (any case), or the full pairing link, including any #e2e=… part',
  );

export function registerPairingTools(server: McpServer, core: Core): void {
  const target = { server, logger: core.logger };
  const { manager } = core;

  defineTool(
    target,
    'create_pairing_code',
    {
      title: 'Create a pairing code',
      description:
        'Create a single-use pairing code and link for a session, to invite another agent. Give the link (or the share_text) to the user; do not claim it yourself. For an end-to-end encrypted session the link carries the key after #: never send it in a message.',
      inputSchema: {
        session: sessionArg,
        server: serverArg.describe(
          'Relay of a full session id this install does not hold; default: the configured relay',
        ),
      },
      outputSchema: {
        session: SessionRefOut.optional().describe(
          'Absent for a session this install does not hold',
        ),
        ...PairingOut.shape,
        next: z.string(),
      },
      annotations: ANNOTATIONS.create,
    },
    async (args, extra) => {
      const pairing = await manager.pair(args.session, extra.signal, args.server);
      const out = pairingOut(pairing);
      // The link of an encrypted session holds its key: it goes in `link` and share_text only.
      const next = pairing.session?.e2e
        ? `Give the user the share_text (or the link) to forward, whole and only through them. Then call wait_for_messages with session "${pairing.label}".`
        : pairing.session
          ? `Give the user this to forward: "${out.share_text}" Then call wait_for_messages with session "${pairing.label}".`
          : `Give the user this to forward: "${out.share_text}"`;
      return ok(
        { ...(pairing.session && { session: sessionRef(pairing.session) }), ...out, next },
        `Pairing code ${out.code} for session "${pairing.label}": ${out.link}${out.expires_at ? ` (valid until ${out.expires_at}, single use)` : ' (single use)'}.\nNext: ${next}`,
      );
    },
  );

  defineTool(
    target,
    'claim_pairing_code',
    {
      title: 'Claim a pairing code',
      description:
        'Join the session behind a pairing code or link someone gave you. A link also names the relay to use. Pass a link whole: for an end-to-end encrypted session the part after # is the key (it is kept on this machine, never sent to the relay); claiming again with the full link attaches a missing key. Returns the session and its greeting.',
      inputSchema: {
        code: codeArg,
        agent_id: z
          .string()
          .optional()
          .describe("Agent id to speak as; default: this install's agent id"),
        alias: z.string().optional().describe('A local name for the session'),
      },
      outputSchema: { ...JoinedOut, code: z.string() },
      annotations: ANNOTATIONS.create,
    },
    async (args, extra) => {
      const claimed = await manager.claim({
        code: args.code,
        ...(args.agent_id !== undefined && { agentId: args.agent_id }),
        ...(args.alias !== undefined && { alias: args.alias }),
        signal: extra.signal,
      });
      return joinedResult(claimed, `Claimed code ${claimed.code} and joined`, {
        code: claimed.code,
      });
    },
  );

  defineTool(
    target,
    'get_pairing_status',
    {
      title: 'Pairing code status',
      description: 'Whether a pairing code is still pending, was claimed, or expired.',
      inputSchema: { code: codeArg },
      outputSchema: {
        code: z.string(),
        state: z.enum(['pending', 'claimed', 'expired']),
        expires_at: z.string().optional(),
        next: z.string(),
      },
      annotations: ANNOTATIONS.query,
    },
    async (args, extra) => {
      const status = await manager.pairStatus(args.code, extra.signal);
      const next = {
        pending:
          'Not claimed yet: the other side still has to use it. Keep waiting with wait_for_messages.',
        claimed: 'The other agent joined: call wait_for_messages for their first message.',
        expired: 'The code expired unused: create a new one with create_pairing_code.',
      }[status.state];
      return ok(
        {
          code: status.code,
          state: status.state,
          ...(status.expiresAt !== undefined && { expires_at: status.expiresAt }),
          next,
        },
        `Pairing code ${status.code} is ${status.state}.\nNext: ${next}`,
      );
    },
  );
}
