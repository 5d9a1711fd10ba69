import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/core.js';
import { CLI } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

const exec = promisify(execFile);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and reports its exit code instead of throwing on a non-zero one. */
async function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const { NEXUS_URL: _url, NEXUS_AGENT_ID: _id, NEXUS_MCP_HOME: _home, ...inherited } = process.env;
  try {
    const { stdout, stderr } = await exec(file, args, {
      env: { ...inherited, NEXUS_MCP_HOME: tempDir(), ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const cli = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, [CLI, ...args], env);

/** The machine's own Node when it is older than the floor (the CI image's /usr/bin/node is 20). */
function oldNode(): string | undefined {
  const candidate = '/usr/bin/node';
  if (!existsSync(candidate)) return undefined;
  const major = Number(execFileSync(candidate, ['-p', 'process.versions.node.split(".")[0]']));
  return major < 22 ? candidate : undefined;
}
const OLD_NODE = oldNode();

describe.skipIf(OLD_NODE === undefined)('on a Node older than 22', () => {
  it('the binary exits 1 with one line naming the floor and how to get it', async () => {
    const result = await run(OLD_NODE ?? '', [CLI, 'doctor']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^nexus-messaging-mcp needs Node\.js 22\.13 or newer \(found v\d+\.\d+\.\d+\): install it with `nvm install 22` or from https:\/\/nodejs\.org/,
    );
  });

  it('npm install and npm ci stop at the engine check, naming Node 22.13', async () => {
    const dir = tempDir();
    for (const file of ['package.json', 'package-lock.json', '.npmrc'])
      copyFileSync(join(process.cwd(), file), join(dir, file));
    const npm = join(OLD_NODE ?? '', '..', 'npm');
    // The old Node first on PATH, as on a machine that has only it; --offline proves the check
    // comes before any download.
    const env = { PATH: `${join(OLD_NODE ?? '', '..')}:${process.env.PATH ?? ''}` };
    for (const command of ['install', 'ci']) {
      const result = await exec(npm, [command, '--offline', '--no-audit', '--no-fund'], {
        cwd: dir,
        env: { ...process.env, ...env },
      }).then(
        () => ({ code: 0, output: '' }),
        (error: { code: number; stdout: string; stderr: string }) => ({
          code: error.code,
          output: `${error.stdout}${error.stderr}`,
        }),
      );
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('EBADENGINE');
      expect(result.output).toContain('{"node":">=22.13"}');
      expect(existsSync(join(dir, 'node_modules'))).toBe(false);
    }
  });
});

describe('the entry file', () => {
  it('loads nothing before it has checked the Node version', () => {
    const entry = readFileSync(CLI, 'utf8');
    // A static import would be evaluated before the check runs, on any Node.
    expect(entry).not.toMatch(/^\s*import\s[^(]/m);
    expect(entry.indexOf('process.versions.node')).toBeLessThan(
      entry.indexOf("import('./main.js')"),
    );
  });
});

describe('the CLI', () => {
  it('answers help and help <command> on stdout with exit 0', async () => {
    const help = await cli(['help']);
    expect(help.code).toBe(0);
    expect((await cli(['--help'])).stdout).toBe(help.stdout);
    for (const command of ['doctor', 'config', 'import-cli', 'set-url', 'relay', 'demo', 'help'])
      expect(help.stdout).toContain(`nexus-messaging-mcp ${command}`);
    const doctor = await cli(['help', 'doctor']);
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(/^Usage: nexus-messaging-mcp doctor \[--url URL\]/);
    expect((await cli(['doctor', '--help'])).stdout).toBe(doctor.stdout);
    const relayHelp = await cli(['help', 'relay']);
    expect(relayHelp.stdout).toMatch(/^Usage: nexus-messaging-mcp relay \[options\]/);
    const nothing = await cli(['help', 'bogus']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('no help for "bogus"');
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'", 'Usage:\n'],
    [['bogus'], 'unknown command "bogus"', 'Usage:\n'],
    [['demo', '--x'], "Unknown option '--x'", 'Usage: nexus-messaging-mcp demo'],
    [['doctor', '--from', 'x'], "Unknown option '--from'", 'Usage: nexus-messaging-mcp doctor'],
    [['config', 'extra'], 'unexpected argument "extra"', 'Usage: nexus-messaging-mcp config'],
    [['set-url'], 'give either a URL or --clear', 'Usage: nexus-messaging-mcp set-url'],
    [['set-url', 'a', 'b'], 'too many arguments', 'Usage: nexus-messaging-mcp set-url'],
    [['relay', '--bogus'], "Unknown option '--bogus'", 'Usage: nexus-messaging-mcp relay'],
  ])('rejects %j with the usage and exit 2', async (args, reason, usage) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(reason);
    expect(result.stderr).toContain(usage);
  });

  it('speaks CLI words for a bad value: what is wrong, no tool-style hint', async () => {
    const result = await cli(['set-url', 'ftp://nope']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'nexus-messaging-mcp: URL is not an http(s) URL without credentials: "ftp://nope".\n',
    );
  });

  it('config shows each setting with its source: flag, env, saved, default', async () => {
    const relay = await useRelay();
    const home = tempDir();
    const defaults = await cli(['config'], { NEXUS_MCP_HOME: home });
    expect(defaults.code).toBe(0);
    expect(defaults.stdout).toContain('relay URL: https://messaging.md  (default)');
    expect(defaults.stdout).toContain('agent id:  (none yet)  (default: generated on first use');
    expect(defaults.stdout).toContain(`store:     ${home}  (env: NEXUS_MCP_HOME)`);

    await cli(['set-url', relay.url], { NEXUS_MCP_HOME: home });
    await cli(['doctor'], { NEXUS_MCP_HOME: home }); // settles the install's agent id
    const saved = await cli(['config'], { NEXUS_MCP_HOME: home });
    expect(saved.stdout).toContain(`relay URL: ${relay.url}  (saved: nexus-messaging-mcp set-url)`);
    expect(saved.stdout).toMatch(/agent id: {2}agent-[0-9a-z]{6} {2}\(saved/);

    const env = await cli(['config'], {
      NEXUS_MCP_HOME: home,
      NEXUS_URL: 'http://env.example',
      NEXUS_AGENT_ID: 'bob',
    });
    expect(env.stdout).toContain('relay URL: http://env.example  (env: NEXUS_URL)');
    expect(env.stdout).toContain('agent id:  bob  (env: NEXUS_AGENT_ID)');
    const flag = await cli(['config', '--url', 'http://flag.example'], {
      NEXUS_MCP_HOME: home,
      NEXUS_URL: 'http://env.example',
    });
    expect(flag.stdout).toContain('relay URL: http://flag.example  (flag: --url)');
  });
});
