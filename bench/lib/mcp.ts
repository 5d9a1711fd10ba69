/**
 * The built MCP server (dist/cli.js) spawned as a host would spawn it, driven by the SDK's own
 * Client over stdio: the pattern of test/helpers/mcp.ts without vitest.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, ROOT, withTimeout } from './util.ts';

const FLOOR = join(ROOT, 'bench', 'floor-server.mjs');

export interface McpOptions {
  relayUrl: string;
  agentId: string;
  pollIntervalMs?: number;
  home?: string;
  /** Extra arguments for node before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export interface McpServer {
  client: Client;
  home: string;
  agentId: string;
  pid: number;
  stderr: string[];
  /** Calls a tool that must succeed and returns its structuredContent. */
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

const open = new Set<McpServer>();

export async function closeAllMcp(): Promise<void> {
  await Promise.all([...open].map((server) => server.close()));
}

export function mcpTransport(options: McpOptions, home: string): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: [...(options.nodeArgs ?? []), CLI],
    env: {
      ...getDefaultEnvironment(),
      NEXUS_URL: options.relayUrl,
      NEXUS_AGENT_ID: options.agentId,
      NEXUS_MCP_HOME: home,
      NEXUS_POLL_INTERVAL_MS: String(options.pollIntervalMs ?? 100),
    },
    stderr: 'pipe',
  });
}

export function newClient(): Client {
  return new Client(
    { name: 'nexus-bench', version: '1.0.0' },
    { capabilities: {}, enforceStrictCapabilities: true },
  );
}

/** The floor server (bench/floor-server.mjs) speaking as `agent` in its session. */
export async function startFloor(
  relayUrl: string,
  agent: { sessionId: string; agentId: string; sessionKey: string },
  nodeArgs: string[] = [],
): Promise<McpServer> {
  const transport = floorTransport(relayUrl, agent, nodeArgs);
  return connectServer(transport, { relayUrl, agentId: agent.agentId, home: '' }, '');
}

export function floorTransport(
  relayUrl: string,
  agent = { sessionId: 'none', agentId: 'floor', sessionKey: 'none' },
  nodeArgs: string[] = [],
): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: [...nodeArgs, FLOOR],
    env: {
      ...getDefaultEnvironment(),
      FLOOR_URL: relayUrl,
      FLOOR_SESSION: agent.sessionId,
      FLOOR_AGENT: agent.agentId,
      FLOOR_KEY: agent.sessionKey,
    },
    stderr: 'pipe',
  });
}

export async function startMcp(options: McpOptions): Promise<McpServer> {
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'nexus-bench-'));
  return connectServer(mcpTransport(options, home), options, home);
}

async function connectServer(
  transport: StdioClientTransport,
  options: McpOptions,
  home: string,
): Promise<McpServer> {
  const stderr: string[] = [];
  transport.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const client = newClient();
  await withTimeout('MCP initialize', client.connect(transport), 20_000);
  let closed = false;
  const server: McpServer = {
    client,
    home,
    agentId: options.agentId,
    pid: transport.pid ?? -1,
    stderr,
    async ok<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
      const result = (await client.callTool({ name, arguments: args }, undefined, {
        timeout: 120_000,
      })) as CallToolResult;
      if (result.isError || result.structuredContent === undefined) {
        const text = result.content
          .map((block) => (block.type === 'text' ? block.text : ''))
          .join(' ');
        throw new Error(`${name} failed: ${text.slice(0, 300)}`);
      }
      return result.structuredContent as T;
    },
    async close() {
      if (closed) return;
      closed = true;
      open.delete(server);
      await client.close().catch(() => undefined);
      if (options.home === undefined && home) rmSync(home, { recursive: true, force: true });
    },
  };
  open.add(server);
  return server;
}

/** What the server's store holds for a session alias: its full id and key (bench-side only). */
export function storedSession(
  home: string,
  alias: string,
): { sessionId: string; sessionKey: string; agentId: string; cursor: string } {
  const data = JSON.parse(readFileSync(join(home, 'store.json'), 'utf8')) as {
    sessions: Record<
      string,
      { sessionId: string; sessionKey: string; agentId: string; alias?: string; cursor: string }
    >;
  };
  const found = Object.values(data.sessions).find((session) => session.alias === alias);
  if (!found) throw new Error(`no session with alias ${alias} in ${home}`);
  return found;
}

/** Resident set size of a process in bytes, from /proc (Linux only). */
export function rssOf(pid: number): number | undefined {
  return memoryOf(pid)?.rss;
}

/** VmRSS and its anonymous (private heap) and file-backed (mapped binary) parts, in bytes. */
export function memoryOf(pid: number): { rss: number; anon: number; file: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  };
  const rss = field('VmRSS');
  return Number.isNaN(rss) ? undefined : { rss, anon: field('RssAnon'), file: field('RssFile') };
}
