/**
 * `npm run bundle`: builds nexus-messaging-mcp.mcpb, a Claude Desktop MCP bundle (MCPB). Stages
 * the built server, its production dependencies (copied from node_modules, so no download), the
 * icon and a manifest whose tool list comes from the built server itself; validates the
 * manifest and packs it with @anthropic-ai/mcpb.
 *   node --experimental-strip-types scripts/bundle.ts [--out FILE] [--stage DIR]
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';

const ROOT = resolve(import.meta.dirname, '..');
const MCPB = join(ROOT, 'node_modules', '@anthropic-ai', 'mcpb', 'dist', 'cli', 'cli.js');

const { values } = parseArgs({
  options: { out: { type: 'string' }, stage: { type: 'string' } },
  strict: true,
});
const out = resolve(values.out ?? join(ROOT, 'nexus-messaging-mcp.mcpb'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  description: string;
  license: string;
  engines: { node: string };
};

if (!existsSync(join(ROOT, 'dist', 'cli.js')))
  throw new Error('dist/cli.js is missing: run `npm run build` first');

/** The tools as the built server lists them: the manifest can never drift from the code. */
async function listTools(): Promise<{ name: string; description: string }[]> {
  const home = mkdtempSync(join(tmpdir(), 'nexus-bundle-'));
  const client = new Client({ name: 'bundle', version: pkg.version });
  try {
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [join(ROOT, 'dist', 'cli.js')],
        env: { ...getDefaultEnvironment(), NEXUS_MCP_HOME: home },
        stderr: 'ignore',
      }),
    );
    const { tools } = await client.listTools();
    // The manifest lists them for people browsing the bundle: the first sentence says enough.
    return tools.map((tool) => ({
      name: tool.name,
      description: (tool.description ?? tool.name).split(/(?<=\.)\s/)[0] ?? tool.name,
    }));
  } finally {
    await client.close();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Production dependencies, copied from the installed tree with their hoisted layout. */
function copyProductionDependencies(stage: string): void {
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  for (const dir of listed.split('\n').slice(1)) {
    if (!dir.trim()) continue;
    const path = relative(ROOT, dir);
    if (!path.startsWith('node_modules')) continue;
    cpSync(dir, join(stage, path), {
      recursive: true,
      dereference: true,
      // Nested node_modules are copied as dependencies of their own.
      filter: (source) => !relative(dir, source).includes('node_modules'),
    });
  }
}

/** `${name}`: a placeholder the host fills in when it starts the server. */
function placeholder(name: string): string {
  return `\${${name}}`;
}

const manifest = {
  manifest_version: '0.3',
  name: pkg.name,
  display_name: 'NexusMessaging',
  version: pkg.version,
  description: pkg.description,
  long_description:
    'Lets Claude talk to other AI agents through a NexusMessaging relay: create a session, hand the pairing link to the other side, then send and wait for messages. Messages from other agents are shown as untrusted data, never as instructions.',
  author: { name: 'NexusMessaging' },
  license: pkg.license,
  icon: 'icon.png',
  server: {
    type: 'node',
    entry_point: 'dist/cli.js',
    mcp_config: {
      command: 'node',
      args: [`${placeholder('__dirname')}/dist/cli.js`],
      env: {
        NEXUS_AGENT_ID: placeholder('user_config.agent_id'),
        NEXUS_URL: placeholder('user_config.relay_url'),
      },
    },
  },
  tools: await listTools(),
  keywords: ['mcp', 'agents', 'messaging', 'agent-to-agent', 'nexus'],
  compatibility: {
    platforms: ['darwin', 'win32', 'linux'],
    runtimes: { node: pkg.engines.node },
  },
  user_config: {
    agent_id: {
      type: 'string',
      title: 'Agent id',
      description:
        'The name this agent uses in conversations (letters, digits, - and _). Leave empty to use one generated once for this install.',
      required: false,
      default: '',
    },
    relay_url: {
      type: 'string',
      title: 'Relay URL',
      description:
        'The NexusMessaging relay for new sessions. Leave empty for the saved one or the public relay (https://messaging.md); http://127.0.0.1:8787 for `nexus-messaging-mcp relay` on this machine.',
      required: false,
      default: '',
    },
  },
};

const stage = values.stage ? resolve(values.stage) : mkdtempSync(join(tmpdir(), 'nexus-mcpb-'));
try {
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  cpSync(join(ROOT, 'dist'), join(stage, 'dist'), { recursive: true });
  for (const file of ['package.json', 'README.md', 'CHANGELOG.md'])
    cpSync(join(ROOT, file), join(stage, file));
  cpSync(join(ROOT, 'assets', 'icon.png'), join(stage, 'icon.png'));
  copyProductionDependencies(stage);
  writeFileSync(join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  execFileSync(process.execPath, [MCPB, 'validate', join(stage, 'manifest.json')], {
    stdio: 'inherit',
  });
  rmSync(out, { force: true });
  execFileSync(process.execPath, [MCPB, 'pack', stage, out], { stdio: 'inherit' });
  process.stdout.write(
    `Built ${relative(process.cwd(), out) || out}: install it by opening it in Claude Desktop.\n`,
  );
} finally {
  if (!values.stage) rmSync(stage, { recursive: true, force: true });
}
