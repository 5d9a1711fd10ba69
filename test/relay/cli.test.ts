import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HealthResponse } from '../../src/protocol/index.js';

const CLI = resolve(import.meta.dirname, '../../dist/cli.js');
const RELAY_ENV_VARS = [
  'HOST',
  'PORT',
  'RELAY_STORE',
  'DATA_DIR',
  'TRUST_PROXY',
  'MAX_SESSIONS_PER_IP',
  'PUBLIC_URL',
  'MAX_TTL_SECONDS',
  'MAX_AGENTS',
  'DEFAULT_MAX_AGENTS',
  'AGENT_INACTIVITY_SECONDS',
  'PAIR_CODE_TTL_SECONDS',
  'RATE_LIMIT_PER_MINUTE',
  'MAX_MESSAGE_BYTES',
  'MAX_MESSAGES_PER_SESSION',
  'LONG_POLL',
];

interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
/** The platform data dir of the spawned relays: their default relay.db lands here, not in $HOME. */
let xdgDataHome: string;

function run(args: string[], env: Record<string, string> = {}): Spawned {
  const base = { ...process.env };
  for (const name of RELAY_ENV_VARS) delete base[name];
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...base, XDG_DATA_HOME: xdgDataHome, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolveExit) => {
    child.on('exit', (code) => resolveExit(code));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves with the relay's URL from its one "listening" line. */
async function listening(spawned: Spawned): Promise<string> {
  const { child } = spawned;
  return new Promise<string>((resolveUrl, reject) => {
    const check = (): void => {
      const match = /^nexus relay listening on (http:\/\/\S+) \(store: [^\n]+\)\n/.exec(
        spawned.stderr(),
      );
      if (match?.[1]) {
        child.stderr?.off('data', check);
        resolveUrl(match[1]);
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => reject(new Error(`relay exited (${code}): ${spawned.stderr()}`)));
  });
}

beforeAll(() => {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does).`);
  }
  xdgDataHome = mkdtempSync(join(tmpdir(), 'nexus-cli-xdg-'));
});

afterAll(() => {
  rmSync(xdgDataHome, { recursive: true, force: true });
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('nexus-messaging-mcp relay', () => {
  it('announces itself in one stderr line, serves, and exits 0 on SIGTERM', async () => {
    // Flags beat the environment: PORT=1 would fail to bind.
    const relay = run(['relay', '--port', '0', '--host', '127.0.0.1'], { PORT: '1' });
    const url = await listening(relay);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toBe('http://127.0.0.1:0');
    const health = HealthResponse.parse(await (await fetch(`${url}/health`)).json());
    expect(health).toMatchObject({ status: 'ok', capabilities: { longPoll: true } });

    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
    // Durable by default: relay.db in the platform's data dir. Nothing else on stderr (no
    // ExperimentalWarning from node:sqlite), nothing at all on stdout.
    const db = join(xdgDataHome, 'nexus-messaging-mcp', 'relay', 'relay.db');
    expect(relay.stderr()).toBe(`nexus relay listening on ${url} (store: sqlite ${db})\n`);
    expect(existsSync(db)).toBe(true);
    expect(relay.stdout()).toBe('');
  });

  it('honours --no-long-poll and exits 0 on SIGINT', async () => {
    const relay = run(['relay', '--port', '0', '--no-long-poll']);
    const url = await listening(relay);
    const health = HealthResponse.parse(await (await fetch(`${url}/health`)).json());
    expect(health.capabilities.longPoll).toBe(false);
    relay.child.kill('SIGINT');
    expect(await relay.exited).toBe(0);
  });

  it('keeps sessions in relay.db in the data dir across a kill -9', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nexus-cli-'));
    try {
      const env = { DATA_DIR: join(dir, 'data') };
      const first = run(['relay', '--port', '0'], env);
      const url = await listening(first);
      const created = (await (
        await fetch(`${url}/v1/sessions`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ creatorAgentId: 'alice' }),
        })
      ).json()) as { sessionId: string };
      first.child.kill('SIGKILL');
      await first.exited;
      expect(first.stderr()).not.toContain(created.sessionId);

      const second = run(['relay', '--port', '0'], env);
      const again = await listening(second);
      const status = await fetch(`${again}/v1/sessions/${created.sessionId}`);
      expect(status.status).toBe(200);
      expect(((await status.json()) as { agents: string[] }).agents).toEqual(['alice']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a corrupt relay.db with one line and exit 1, leaving it untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nexus-cli-'));
    try {
      const db = join(dir, 'relay.db');
      const garbage = "this is not an SQLite database, but it could be someone's data\n".repeat(64);
      writeFileSync(db, garbage);
      const relay = run(['relay', '--port', '0', '--store', `sqlite:${db}`]);
      expect(await relay.exited).toBe(1);
      const lines = relay.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(db);
      expect(lines[0]).toContain('left untouched');
      expect(readFileSync(db, 'utf8')).toBe(garbage);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a --store it cannot parse with exit 2', async () => {
    const relay = run(['relay', '--store', 'postgres://db']);
    expect(await relay.exited).toBe(2);
    expect(relay.stderr()).toContain('--store must be memory, sqlite:PATH or redis://');
  });

  it('prints help and exits 0', async () => {
    const relay = run(['relay', '--help']);
    expect(await relay.exited).toBe(0);
    expect(relay.stdout()).toContain('--no-long-poll');
    expect(relay.stdout()).toContain('RATE_LIMIT_PER_MINUTE');
    expect(relay.stdout()).toContain('--store');
    expect(relay.stdout()).toContain('--trust-proxy');
    expect(relay.stdout()).toContain('MAX_SESSIONS_PER_IP');
  });

  it('refuses unknown flags and bad values with exit 2', async () => {
    const flag = run(['relay', '--bogus']);
    expect(await flag.exited).toBe(2);
    expect(flag.stderr()).toContain('--bogus');
    const env = run(['relay'], { MAX_AGENTS: 'many' });
    expect(await env.exited).toBe(2);
    expect(env.stderr()).toContain('MAX_AGENTS');
  });
});
