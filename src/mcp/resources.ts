/**
 * Every local session as a resource, `nexus://sessions/{session}`: a markdown transcript
 * framed as untrusted content. Subscriptions are wired on the low-level server (the SDK keeps
 * no subscriber list): while a URI is subscribed, the watcher's news about its session becomes
 * `notifications/resources/updated`.
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  type Core,
  type MessageView,
  messageSize,
  NexusError,
  type Rejoined,
  type SessionInfo,
} from '../core/index.js';
import { cut, escapeUnsafe, oneLine } from '../protocol/index.js';
import {
  errorLine,
  membersText,
  messageOut,
  RESULT_CHARS,
  renderMessages,
  UNTRUSTED_NOTICE,
} from './render.js';

const URI_PREFIX = 'nexus://sessions/';
const TRANSCRIPT_BUDGET_CHARS = 100_000;
const TRANSCRIPT_PAGE = 200;

export function sessionUri(session: Pick<SessionInfo, 'label'>): string {
  return `${URI_PREFIX}${encodeURIComponent(session.label)}`;
}

export function registerResources(server: McpServer, core: Core): () => void {
  const { manager, watcher } = core;

  server.registerResource(
    'session',
    new ResourceTemplate(`${URI_PREFIX}{session}`, {
      list: () => ({
        resources: manager
          .sessions()
          .filter((session) => !session.expired)
          .map((session) => ({
            uri: sessionUri(session),
            name: session.label,
            title: `Session ${session.label}`,
            description: describe(session),
            mimeType: 'text/markdown',
          })),
      }),
      complete: {
        session: (value) => {
          const prefix = value.toLowerCase();
          const names = manager.sessions().flatMap((session) => [session.alias, session.shortId]);
          return [
            ...new Set(
              names.filter(
                (name): name is string => !!name && name.toLowerCase().startsWith(prefix),
              ),
            ),
          ].slice(0, 100);
        },
      },
    }),
    {
      title: 'Conversation session',
      description:
        'Transcript of a session: status, members and every message the relay still holds (reading it does not mark anything read).',
      mimeType: 'text/markdown',
    },
    async (uri, variables) => {
      const reference = decodeURIComponent(
        String(Array.isArray(variables.session) ? variables.session[0] : variables.session),
      );
      let session: SessionInfo;
      try {
        session = manager.info(reference);
      } catch (error) {
        throw new McpError(
          ErrorCode.InvalidParams,
          error instanceof NexusError
            ? `${error.code}: ${errorLine(error.message)}`
            : 'Unknown session',
        );
      }
      return {
        contents: [
          {
            uri: uri.href,
            mimeType: 'text/markdown',
            text: cut(escapeUnsafe(await transcript(core, session)), RESULT_CHARS),
          },
        ],
      };
    },
  );

  // Subscriptions: uri → session id, for the sessions someone wants to hear about.
  const subscribed = new Map<string, string>();
  server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
    const { uri } = request.params;
    const sessionId = sessionIdOf(core, uri);
    subscribed.set(uri, sessionId);
    watcher.subscribe(sessionId);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    const { uri } = request.params;
    const sessionId = subscribed.get(uri);
    subscribed.delete(uri);
    if (sessionId && ![...subscribed.values()].includes(sessionId)) watcher.unsubscribe(sessionId);
    return {};
  });

  const onUpdated = (session: SessionInfo) => {
    for (const [uri, sessionId] of subscribed) {
      if (sessionId === session.sessionId)
        server.server.sendResourceUpdated({ uri }).catch(() => undefined);
    }
  };
  const onListChanged = () => {
    if (server.isConnected()) server.sendResourceListChanged();
  };
  watcher.events.on('updated', onUpdated);
  manager.events.on('sessions-changed', onListChanged);
  return () => {
    watcher.events.off('updated', onUpdated);
    manager.events.off('sessions-changed', onListChanged);
    for (const sessionId of new Set(subscribed.values())) watcher.unsubscribe(sessionId);
    subscribed.clear();
  };
}

function sessionIdOf(core: Core, uri: string): string {
  if (!uri.startsWith(URI_PREFIX))
    throw new McpError(ErrorCode.InvalidParams, `Not a session resource: ${uri}`);
  try {
    return core.manager.resolve(decodeURIComponent(uri.slice(URI_PREFIX.length))).sessionId;
  } catch (error) {
    throw new McpError(
      ErrorCode.InvalidParams,
      error instanceof NexusError
        ? `${error.code}: ${errorLine(error.message)}`
        : 'Unknown session',
    );
  }
}

function describe(session: SessionInfo): string {
  const seen = session.lastSeen;
  const members = seen?.members?.length
    ? `members ${membersText(seen.members)}`
    : 'members unknown';
  const expiry = seen?.expiresAt ? `, expires ${seen.expiresAt}` : '';
  return `${session.role === 'creator' ? 'Created' : 'Joined'} as ${session.agentId} on ${session.server}; ${members}${expiry} (as last seen${seen ? ` ${seen.checkedAt}` : ''}).`;
}

const NOT_A_MEMBER = '- You are no longer a member of this session.';

/** Status and every message the relay holds, replayed without moving the stored cursor. */
async function transcript(core: Core, session: SessionInfo): Promise<string> {
  const lines = [`# Session ${session.label}${session.alias ? ` (${session.shortId})` : ''}`, ''];
  lines.push(`- Relay: ${session.server}`);
  lines.push(
    `- You: ${session.agentId} (${session.role}); read position: cursor ${session.cursor}`,
  );
  try {
    const status = await core.manager.status(session.label);
    lines.push(
      `- State: ${cut(oneLine(status.state), 40)}${status.expiresAt ? ` until ${status.expiresAt}` : ''} (ttl ${status.ttl}s, sliding)`,
    );
    lines.push(
      `- Members (${status.members.length}/${status.maxAgents}): ${membersText(status.members) || 'none'}`,
    );
    if (!status.joined) lines.push(NOT_A_MEMBER);
  } catch (error) {
    const code = error instanceof NexusError ? error.code : 'error';
    lines.push(
      code === 'session_not_found'
        ? '- State: expired — the relay no longer knows this session.'
        : `- State: unknown (${code})`,
    );
    return lines.join('\n');
  }
  const header = lines.length;
  lines.push('', `> ${UNTRUSTED_NOTICE}`, '', '## Messages', '');

  const messages: MessageView[] = [];
  let rejoined: Rejoined | undefined;
  let after = '0';
  let budget = TRANSCRIPT_BUDGET_CHARS;
  let truncated = false;
  for (;;) {
    const page = await core.manager.poll(session.label, {
      after,
      limit: TRANSCRIPT_PAGE,
      budgetChars: budget,
    });
    messages.push(...page.messages);
    rejoined ??= page.rejoined;
    budget -= page.messages.reduce((sum, message) => sum + messageSize(message), 0);
    if (!page.hasMore || page.messages.length === 0) break;
    if (budget <= 0) {
      truncated = true;
      break;
    }
    after = page.cursor;
  }
  if (rejoined) {
    // The status was asked before the rejoin: its "no longer a member" is out of date.
    const stale = lines.indexOf(NOT_A_MEMBER);
    lines.splice(
      stale >= 0 ? stale : header,
      stale >= 0 ? 1 : 0,
      `- Rejoined as ${rejoined.agentId} just now: the relay had ${rejoined.reason === 'invalid_session_key' ? 'refused the stored key' : 'removed this agent'}; the read position was kept.`,
    );
  }
  lines.push(messages.length ? renderMessages(messages.map(messageOut)) : '(no messages yet)');
  if (truncated)
    lines.push(
      '',
      `(Transcript cut at ${TRANSCRIPT_BUDGET_CHARS} characters; poll_messages with \`after\` reads further.)`,
    );
  return lines.join('\n');
}
