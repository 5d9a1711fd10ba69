/**
 * Spawns the BUILT server (`dist/cli.js`) as a host would and drives it with the SDK's own
 * Client over stdio. Records everything the server says — tool results, resource reads, log
 * notifications, stderr — so tests can scan it for secrets.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  type CallToolResult,
  LoggingMessageNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';
import { cleanup } from './cleanup.js';

export const CLI = join(process.cwd(), 'dist', 'cli.js');

export interface Harness {
  client: Client;
  home: string;
  agentId: string;
  /** Everything the server sent that a model, a user or a log could see. */
  seen: unknown[];
  stderr: string[];
  notifications: { method: string; params: unknown }[];
  transportErrors: Error[];
  /** Every session key and full id this server's store has held so far. */
  secrets: Set<string>;
  pid: number | null;
  call(
    name: string,
    args?: Record<string, unknown>,
    options?: RequestOptions,
  ): Promise<CallToolResult>;
  /** Calls a tool that must succeed and returns its structuredContent. */
  ok<T = Record<string, unknown>>(
    name: string,
    args?: Record<string, unknown>,
    options?: RequestOptions,
  ): Promise<T>;
  /** Calls a tool that must fail and returns its text. */
  fail(name: string, args?: Record<string, unknown>): Promise<string>;
  read(uri: string): Promise<string>;
  close(): Promise<void>;
}

export const harnesses: Harness[] = [];

export async function startServer(options: {
  relayUrl: string;
  agentId?: string;
  home?: string;
  env?: Record<string, string>;
}): Promise<Harness> {
  expect(existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'nexus-mcp-'));
  const agentId = options.agentId ?? 'agent';
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: {
      ...getDefaultEnvironment(),
      NEXUS_URL: options.relayUrl,
      NEXUS_AGENT_ID: agentId,
      NEXUS_MCP_HOME: home,
      NEXUS_POLL_INTERVAL_MS: '100',
      ...options.env,
    },
    stderr: 'pipe',
  });
  const stderr: string[] = [];
  transport.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const client = new Client(
    { name: 'nexus-tests', version: '1.0.0' },
    { capabilities: {}, enforceStrictCapabilities: true },
  );
  const seen: unknown[] = [];
  const notifications: Harness['notifications'] = [];
  const transportErrors: Error[] = [];
  client.onerror = (error) => transportErrors.push(error);
  for (const schema of [
    LoggingMessageNotificationSchema,
    ResourceUpdatedNotificationSchema,
    ResourceListChangedNotificationSchema,
  ]) {
    client.setNotificationHandler(schema, (notification) => {
      notifications.push({ method: notification.method, params: notification.params });
      seen.push(notification);
    });
  }
  await client.connect(transport);

  const secrets = new Set<string>();
  const harvest = () => {
    for (const secret of storeSecrets(home)) secrets.add(secret);
  };
  const call: Harness['call'] = async (name, args = {}, requestOptions) => {
    harvest();
    const result = (await client.callTool(
      { name, arguments: args },
      undefined,
      requestOptions,
    )) as CallToolResult;
    seen.push(result);
    harvest();
    return result;
  };
  const harness: Harness = {
    client,
    home,
    agentId,
    seen,
    stderr,
    notifications,
    transportErrors,
    secrets,
    pid: transport.pid,
    call,
    async ok(name, args, requestOptions) {
      const result = await call(name, args, requestOptions);
      expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
      expect(result.structuredContent).toBeDefined();
      return result.structuredContent as never;
    },
    async fail(name, args) {
      const result = await call(name, args);
      expect(result.isError, JSON.stringify(result.structuredContent)).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      const text = result.content
        .map((block) => (block.type === 'text' ? block.text : ''))
        .join('\n');
      seen.push(text);
      return text;
    },
    async read(uri) {
      harvest();
      const result = await client.readResource({ uri });
      seen.push(result);
      const first = result.contents[0];
      return first && 'text' in first ? first.text : '';
    },
    async close() {
      await client.close();
    },
  };
  harnesses.push(harness);
  cleanup(async () => {
    await harness.close();
    rmSync(home, { recursive: true, force: true });
  });
  return harness;
}

/** The secrets a store holds: every session key and full session id. */
export function storeSecrets(home: string): string[] {
  const file = join(home, 'store.json');
  if (!existsSync(file)) return [];
  const data = JSON.parse(readFileSync(file, 'utf8')) as {
    sessions: Record<string, { sessionId: string; sessionKey: string }>;
  };
  return Object.values(data.sessions).flatMap((session) => [session.sessionId, session.sessionKey]);
}

/** Asserts that nothing any harness saw contains a secret from any harness's store. */
export function expectNoSecretsSeen(all: readonly Harness[] = harnesses): void {
  const secrets = all.flatMap((harness) => [...harness.secrets, ...storeSecrets(harness.home)]);
  expect(secrets.length).toBeGreaterThan(0);
  const corpus = JSON.stringify(all.map((harness) => [harness.seen, harness.stderr]));
  for (const secret of secrets)
    expect(corpus.includes(secret), `a secret leaked: ${secret.slice(0, 6)}…`).toBe(false);
}

export function textOf(result: CallToolResult): string {
  return result.content.map((block) => (block.type === 'text' ? block.text : '')).join('\n');
}

/** The first line of an error result names the code; the second says what to do. */
export function expectError(text: string, code: string): void {
  const [first, second] = text.split('\n');
  expect(first).toMatch(new RegExp(`^Error ${code}: \\S`));
  expect(second).toMatch(/^Next: \S/);
}
