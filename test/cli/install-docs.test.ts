/**
 * The install instructions a new user copies: they run the command a clone provides, mark the
 * npx forms as future, keep the relay URL to the blocks about a relay, and never give a host an
 * agent id of its own without a store of its own.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pairingMarkdown } from '../../src/relay/skill-page.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> };
const [BIN] = Object.keys(pkg.bin);
const examples = JSON.parse(readFileSync('mcp.json.example', 'utf8')) as Record<string, unknown>;

interface ServerBlock {
  command: string;
  args?: string[];
  env?: Record<string, string>;
}

function serverBlocks(value: unknown): ServerBlock[] {
  if (typeof value === 'string') {
    const command = value.split(' -- ')[1] ?? '';
    const env = Object.fromEntries(
      [...value.matchAll(/--env (\w+)=(\S+)/g)].map((match) => [match[1], match[2]]),
    );
    const [first, ...rest] = command.split(' ');
    return [{ command: first ?? '', args: rest, env }];
  }
  const holder = value as {
    mcpServers?: Record<string, ServerBlock>;
    servers?: Record<string, ServerBlock>;
  };
  return Object.values(holder.mcpServers ?? holder.servers ?? {});
}

describe('install instructions', () => {
  const entries = Object.entries(examples).filter(([key]) => key !== '_readme');

  it('mcp.json.example: the clone command first, npx only "once published"', () => {
    expect(BIN).toBe('nexus-messaging-mcp');
    expect(entries[0]?.[0]).toBe('claude_desktop_config.json');
    for (const [key, value] of entries) {
      for (const block of serverBlocks(value)) {
        const runs = [block.command, ...(block.args ?? [])].join(' ');
        if (key.includes('once published'))
          expect(runs, key).toContain('npx -y nexus-messaging-mcp');
        else expect(runs, key).not.toContain('npx');
        if (!key.includes('once published')) expect(runs, key).toContain(BIN);
      }
    }
  });

  it('mcp.json.example: relay URL only in blocks about a relay; an own id comes with an own store', () => {
    for (const [key, value] of entries) {
      for (const block of serverBlocks(value)) {
        const env = block.env ?? {};
        if ('NEXUS_URL' in env) expect(key, key).toMatch(/relay/);
        if ('NEXUS_AGENT_ID' in env) expect(Object.keys(env), key).toContain('NEXUS_MCP_HOME');
      }
    }
  });

  it('README: the first host config runs the clone command and says where it comes from', () => {
    const readme = readFileSync('README.md', 'utf8');
    const hosts = readme.slice(readme.indexOf('## Use it from your MCP host'));
    const firstJson = hosts.slice(
      hosts.indexOf('```json'),
      hosts.indexOf('```', hosts.indexOf('```json') + 3),
    );
    expect(firstJson).toContain('"command": "nexus-messaging-mcp"');
    expect(hosts.slice(0, hosts.indexOf('```json'))).toContain('npm link');
    expect(readme).toContain('nvm install 22');
    expect(hosts).toMatch(/Once published on npm/);
  });

  it("the relay's pairing page shows an install that works today", () => {
    const page = pairingMarkdown(
      'http://127.0.0.1:8787',
      'PEARL-FOCAL-S5SJV',
      '2026-01-01T00:00:00Z',
    );
    expect(page).toContain('npm install && npm link');
    expect(page).toContain(`\`${BIN}\``);
    expect(page).toMatch(/Once the package is published\s+on npm, `npx -y nexus-messaging-mcp`/);
  });
});
