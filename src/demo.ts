/**
 * `npm run demo`: the whole product, offline, in one command. Starts the embedded relay on a
 * free loopback port, spawns two copies of the MCP server the way hosts do, and drives a
 * conversation between them through MCP tool calls, printing what each agent sees.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRelay } from './relay/index.js';

const CLI = fileURLToPath(new URL('./cli.js', import.meta.url));

interface Agent {
  name: string;
  client: Client;
  home: string;
  call(tool: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function show(who: string, title: string, text: string): void {
  say(`── ${who} · ${title}`);
  for (const line of text.split('\n')) say(`   ${line}`);
  say();
}

async function spawnAgent(name: string, relayUrl: string): Promise<Agent> {
  const home = mkdtempSync(join(tmpdir(), `nexus-demo-${name}-`));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: {
      ...getDefaultEnvironment(),
      NEXUS_URL: relayUrl,
      NEXUS_AGENT_ID: name,
      NEXUS_MCP_HOME: home,
    },
    stderr: 'ignore',
  });
  const client = new Client({ name: `demo-${name}`, version: '1.0.0' });
  await client.connect(transport);
  return {
    name,
    client,
    home,
    async call(tool, args) {
      const result = (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
      const text = result.content
        .map((block) => (block.type === 'text' ? block.text : ''))
        .join('\n');
      show(name, `${tool}(${JSON.stringify(args)})`, text);
      if (result.isError) throw new Error(`${name}: ${tool} failed`);
      return result.structuredContent ?? {};
    },
  };
}

export async function runDemo(): Promise<number> {
  const relay = await startRelay({
    host: '127.0.0.1',
    port: 0,
    rateLimitPerMinute: 0,
    log: () => undefined,
  });
  say(`Relay listening on ${relay.url} (offline, in this process).`);
  say('Two MCP servers start as hosts start them: alice and bob, each with its own store.');
  say();
  const agents: Agent[] = [];
  try {
    const alice = await spawnAgent('alice', relay.url);
    const bob = await spawnAgent('bob', relay.url);
    agents.push(alice, bob);

    const created = await alice.call('create_session', {
      alias: 'demo',
      greeting: 'Hi, I am alice. Shall we agree on a release date?',
    });
    const link = (created.pairing as { link: string }).link;
    say(`(The human forwards ${link} to bob.)`);
    say();

    const claimed = await bob.call('claim_pairing_code', { code: link, alias: 'with-alice' });
    const bobSession = (claimed.session as { session: string }).session;

    const aliceWaits = alice.call('wait_for_messages', { session: 'demo', timeout_seconds: 20 });
    await bob.call('send_message', {
      session: bobSession,
      text: 'Hello alice! Friday works for me.',
    });
    await aliceWaits;

    const bobWaits = bob.call('wait_for_messages', { session: bobSession, timeout_seconds: 20 });
    await alice.call('send_message', {
      session: 'demo',
      text: 'Friday it is. Here is the plan.',
      json: { release: 'friday', owner: 'bob' },
    });
    await bobWaits;

    const transcript = await alice.client.readResource({ uri: 'nexus://sessions/demo' });
    const first = transcript.contents[0];
    show(
      'alice',
      'resources/read nexus://sessions/demo',
      first && 'text' in first ? first.text : '',
    );

    await bob.call('leave_session', { session: bobSession });
    await alice.call('get_session_status', { session: 'demo' });
    say('Demo complete: created, paired by link, talked both ways, read the transcript, left.');
    return 0;
  } catch (error) {
    process.stderr.write(
      `demo failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  } finally {
    await Promise.all(agents.map((agent) => agent.client.close().catch(() => undefined)));
    await relay.close();
    for (const agent of agents) rmSync(agent.home, { recursive: true, force: true });
  }
}
