/**
 * `npm run bundle`'s product as Claude Desktop gets it: the .mcpb unpacks, its manifest
 * validates with @anthropic-ai/mcpb, and the server inside starts from the unpacked directory
 * alone (its own node_modules), answers initialize, lists every tool the manifest names and
 * talks to a relay.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { cleanup } from '../helpers/cleanup.js';
import { tempDir } from '../helpers/core.js';
import { useRelay } from '../helpers/relay.js';

const exec = promisify(execFile);
const MCPB = join(process.cwd(), 'node_modules', '@anthropic-ai', 'mcpb', 'dist', 'cli', 'cli.js');

interface Manifest {
  name: string;
  version: string;
  icon: string;
  server: {
    entry_point: string;
    mcp_config: { command: string; args: string[]; env: Record<string, string> };
  };
  tools: { name: string; description: string }[];
  user_config: Record<string, { type: string; title: string }>;
}

/** Fills `${__dirname}` and `${user_config.*}` the way the host does. */
function substitute(text: string, dir: string, userConfig: Record<string, string>): string {
  return text
    .replace(/\$\{__dirname\}/g, dir)
    .replace(/\$\{user_config\.([a-z_]+)\}/g, (_, key: string) => userConfig[key] ?? '');
}

describe('npm run bundle', () => {
  it('builds a bundle that validates, unpacks and runs on its own', {
    timeout: 120_000,
  }, async () => {
    const work = tempDir();
    const file = join(work, 'nexus-messaging-mcp.mcpb');
    await exec(
      process.execPath,
      [
        '--experimental-strip-types',
        '--disable-warning=ExperimentalWarning',
        'scripts/bundle.ts',
        '--out',
        file,
      ],
      { cwd: process.cwd() },
    );
    expect(existsSync(file)).toBe(true);

    const dir = join(work, 'unpacked');
    await exec(process.execPath, [MCPB, 'unpack', file, dir]);
    const validated = await exec(process.execPath, [MCPB, 'validate', join(dir, 'manifest.json')]);
    expect(validated.stdout).toContain('Manifest schema validation passes!');

    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      name: string;
      version: string;
    };
    expect(manifest).toMatchObject({ name: pkg.name, version: pkg.version, icon: 'icon.png' });
    expect(readFileSync(join(dir, manifest.icon)).subarray(1, 4).toString()).toBe('PNG');
    expect(Object.keys(manifest.user_config).sort()).toEqual(['agent_id', 'relay_url']);
    expect(existsSync(join(dir, 'node_modules', '@modelcontextprotocol', 'sdk'))).toBe(true);
    expect(existsSync(join(dir, 'node_modules', 'vitest'))).toBe(false);

    const relay = await useRelay();
    const { mcp_config: config } = manifest.server;
    const userConfig = { agent_id: 'bundled', relay_url: relay.url };
    const transport = new StdioClientTransport({
      command: config.command === 'node' ? process.execPath : config.command,
      args: config.args.map((arg) => substitute(arg, dir, userConfig)),
      env: {
        ...getDefaultEnvironment(),
        NEXUS_MCP_HOME: join(work, 'home'),
        ...Object.fromEntries(
          Object.entries(config.env).map(([key, value]) => [
            key,
            substitute(value, dir, userConfig),
          ]),
        ),
      },
      // Run from elsewhere: only the bundle's own node_modules may resolve.
      cwd: work,
      stderr: 'ignore',
    });
    const client = new Client({ name: 'claude-desktop-stand-in', version: '1.0.0' });
    cleanup(() => client.close());
    await client.connect(transport);
    expect(client.getServerVersion()).toMatchObject({ name: pkg.name, version: pkg.version });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(
      manifest.tools.map((tool) => tool.name).sort(),
    );
    const created = await client.callTool({ name: 'create_session', arguments: { pair: false } });
    expect(created.isError).toBeFalsy();
    expect(created.structuredContent).toMatchObject({
      session: { agent_id: 'bundled', server: relay.url },
    });
  });
});
