/**
 * What the in-process loops share (bench/in-process*.ts): our MCP server over the core from
 * dist/, driven by the SDK `Client` over `InMemoryTransport` in this process, and timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type * as CoreModule from '../../src/core/index.js';
import type * as ServerModule from '../../src/mcp/server.js';
import { importDist } from './util.ts';

const { createCore, createLogger } = await importDist<typeof CoreModule>('core/index.js');
const { createServer } = await importDist<typeof ServerModule>('mcp/server.js');

const homes: string[] = [];

export async function connect(server: McpServer): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(clientSide);
  return client;
}

/** Our server on a fresh home, as agent `agentId`; `removeHomes` deletes the homes. */
export async function ours(url: string, agentId: string) {
  const home = mkdtempSync(join(tmpdir(), 'nexus-inproc-'));
  homes.push(home);
  const core = createCore({
    config: { url, home, agentId, httpTimeoutMs: 30_000, pollIntervalMs: 100 },
    logger: createLogger(() => undefined),
  });
  const { server } = createServer(core);
  return { core, client: await connect(server) };
}

export function removeHomes(): void {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
}

export async function call(client: Client, name: string, args: Record<string, unknown>) {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
  return result;
}

export const median = (xs: number[]) =>
  [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;

/**
 * Runs `fn` and records its wall time in µs into `into`, and when given, this process's CPU
 * time in µs into `cpu` (the relay is a child: the figure a busy machine blurs least).
 */
export async function time(
  into: number[],
  fn: () => Promise<unknown>,
  cpu?: number[],
): Promise<void> {
  const used = process.cpuUsage();
  const start = performance.now();
  await fn();
  into.push((performance.now() - start) * 1000);
  const spent = process.cpuUsage(used);
  cpu?.push(spent.user + spent.system);
}

export const us = (xs: number[]) => `${median(xs).toFixed(0)} µs`;

/** Warm-up rounds before the measured ones. */
export const warmRounds = (rounds: number) => Math.min(200, rounds / 5);
