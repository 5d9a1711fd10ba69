import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { cleanup } from '../helpers/cleanup.js';
import { tempDir } from '../helpers/core.js';
import { closedPort } from '../helpers/faulty-server.js';
import { CLI } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

const run = promisify(execFile);

/** A server spoken to in raw JSON-RPC lines, so every byte of stdout can be checked. */
function spawnRaw(env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI], {
    env: { PATH: process.env.PATH ?? '', HOME: env.NEXUS_MCP_HOME ?? '', ...env },
    stdio: 'pipe',
  });
  cleanup(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
    for (const listener of [...listeners]) listener();
  });
  /** The answer to request `id`, skipping notifications. */
  const response = (id: number) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const check = () => {
        const found = lines
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((message) => message.id === id);
        if (!found) return;
        listeners.delete(check);
        resolve(found);
      };
      listeners.add(check);
      check();
    });
  return { child, lines, response };
}

const send = (child: ChildProcessWithoutNullStreams, message: unknown) =>
  child.stdin.write(`${JSON.stringify(message)}\n`);

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
};

describe('MCP server process', async () => {
  const relay = await useRelay();

  it('writes only JSON-RPC to stdout and exits once stdin closes, even mid-wait', async () => {
    const home = tempDir();
    const raw = spawnRaw({ NEXUS_URL: relay.url, NEXUS_MCP_HOME: home, NEXUS_AGENT_ID: 'raw' });
    send(raw.child, initialize);
    expect(await raw.response(1)).toMatchObject({
      id: 1,
      result: { serverInfo: { name: 'nexus-messaging-mcp' } },
    });
    send(raw.child, { jsonrpc: '2.0', method: 'notifications/initialized' });
    send(raw.child, {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'create_session', arguments: { alias: 'r', pair: false } },
    });
    expect(await raw.response(2)).toMatchObject({
      id: 2,
      result: { structuredContent: { session: { session: 'r' } } },
    });
    send(raw.child, {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'wait_for_messages', arguments: { session: 'r', timeout_seconds: 45 } },
    });
    send(raw.child, { jsonrpc: '2.0', id: 4, method: 'tools/list' });
    // The list answers while the wait is still open: a wait never blocks other calls.
    expect(await raw.response(4)).toMatchObject({ id: 4, result: { tools: expect.any(Array) } });
    const exited = once(raw.child, 'exit');
    raw.child.stdin.end();
    const [code] = await exited;
    expect(code).toBe(0);
    for (const line of raw.lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
  });

  it('exits cleanly on SIGTERM', async () => {
    const raw = spawnRaw({ NEXUS_URL: relay.url, NEXUS_MCP_HOME: tempDir() });
    send(raw.child, initialize);
    await raw.response(1);
    const exited = once(raw.child, 'exit');
    raw.child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  });

  it('answers --version and --help on stdout', async () => {
    expect((await run(process.execPath, [CLI, '--version'])).stdout.trim()).toBe(VERSION);
    const help = (await run(process.execPath, [CLI, '--help'])).stdout;
    for (const word of [
      'doctor',
      'import-cli',
      'relay',
      'NEXUS_URL',
      'NEXUS_MCP_HOME',
      'NEXUS_AGENT_ID',
      'NEXUS_HTTP_TIMEOUT_MS',
      'NEXUS_POLL_INTERVAL_MS',
    ]) {
      expect(help).toContain(word);
    }
  });

  it('runs doctor from a terminal: JSON on stdout, exit 1 when a relay is down', async () => {
    const home = tempDir();
    const healthy = await run(process.execPath, [CLI, 'doctor', '--url', relay.url], {
      env: { ...process.env, NEXUS_MCP_HOME: home },
    });
    expect(JSON.parse(healthy.stdout)).toMatchObject({
      ok: true,
      defaultServer: relay.url,
      store: { dirMode: '0700' },
    });
    const down = await run(
      process.execPath,
      [CLI, 'doctor', '--url', `http://127.0.0.1:${await closedPort()}`],
      {
        env: { ...process.env, NEXUS_MCP_HOME: home },
      },
    ).catch((error: { code: number; stdout: string }) => error);
    expect('code' in down && down.code).toBe(1);
    expect(JSON.parse(down.stdout)).toMatchObject({ ok: false });
  });

  it("imports the shell client's sessions from a terminal", async () => {
    const from = tempDir();
    mkdirSync(join(from, 'sessions', 'c'.repeat(48)), { recursive: true });
    for (const [name, text] of Object.entries({
      agent: 'shelly',
      key: 'k'.repeat(64),
      cursor: '7',
      server: relay.url,
    })) {
      writeFileSync(join(from, 'sessions', 'c'.repeat(48), name), text);
    }
    writeFileSync(join(from, 'aliases.json'), JSON.stringify({ old: 'c'.repeat(48) }));
    const { stdout } = await run(process.execPath, [CLI, 'import-cli', '--from', from], {
      env: { ...process.env, NEXUS_MCP_HOME: tempDir() },
    });
    expect(JSON.parse(stdout)).toMatchObject({
      imported: [{ sessionId: 'c'.repeat(48), alias: 'old', agentId: 'shelly' }],
      skipped: [],
    });
  });

  it('runs the offline demo to the end', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'demo'], {
      env: { ...process.env, NEXUS_URL: 'http://127.0.0.1:9' },
    });
    expect(stdout).toContain('claim_pairing_code');
    expect(stdout).toContain('[with-alice] #2 alice ✓verified: Friday it is.');
    expect(stdout).toContain('Demo complete');
  });

  it('saves a default relay that applies when neither --url nor NEXUS_URL is set', async () => {
    const { NEXUS_URL: _ignored, ...inherited } = process.env;
    const env = { ...inherited, NEXUS_MCP_HOME: tempDir() };
    const saved = await run(process.execPath, [CLI, 'set-url', `${relay.url}/`], { env });
    expect(JSON.parse(saved.stdout)).toEqual({ savedUrl: relay.url, defaultServer: relay.url });
    const doctor = await run(process.execPath, [CLI, 'doctor'], { env });
    expect(JSON.parse(doctor.stdout)).toMatchObject({ ok: true, defaultServer: relay.url });
    const cleared = await run(process.execPath, [CLI, 'set-url', '--clear'], { env });
    expect(JSON.parse(cleared.stdout)).toEqual({
      savedUrl: null,
      defaultServer: 'https://messaging.md',
    });
    const usage = await run(process.execPath, [CLI, 'set-url'], { env }).catch(
      (error: { code: number }) => error,
    );
    expect('code' in usage && usage.code).toBe(2);
    const unknown = await run(process.execPath, [CLI, 'bogus'], { env }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect('code' in unknown && unknown.code).toBe(2);
  });

  it('refuses a bad NEXUS_URL at start with a clear message', async () => {
    const failed = await run(process.execPath, [CLI], {
      env: { ...process.env, NEXUS_URL: 'ftp://nope', NEXUS_MCP_HOME: tempDir() },
    }).catch((error: { code: number; stderr: string }) => error);
    expect('code' in failed && failed.code).toBe(1);
    expect('stderr' in failed && failed.stderr).toMatch(/NEXUS_URL is not an http\(s\) URL/);
  });
});
