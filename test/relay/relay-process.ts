import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const CLI = resolve(import.meta.dirname, '../../dist/cli.js');

/** A relay started by the built CLI in its own process, so it can be killed with SIGKILL. */
export class RelayProcess {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    readonly stderr: () => string,
  ) {}

  /** `fileSizeLimitKib`: the process may write no file past this size (`ulimit -f`): a full disk. */
  static async start(
    args: string[],
    limits: { fileSizeLimitKib?: number } = {},
  ): Promise<RelayProcess> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first.`);
    const command = [process.execPath, CLI, 'relay', '--port', '0', ...args];
    const limited =
      limits.fileSizeLimitKib === undefined
        ? command
        : ['bash', '-c', `ulimit -f ${limits.fileSizeLimitKib} && exec "$@"`, 'bash', ...command];
    const [file = '', ...rest] = limited;
    const child = spawn(file, rest, {
      env: { ...process.env, RATE_LIMIT_PER_MINUTE: '0', MAX_SESSIONS_PER_IP: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const url = await new Promise<string>((resolveUrl, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        const match = /nexus relay listening on (http:\/\/\S+)/.exec(stderr);
        if (match?.[1]) resolveUrl(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`relay exited (${code}): ${stderr}`)));
    });
    return new RelayProcess(url, child, () => stderr);
  }

  /** kill -9: no shutdown code runs. */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** Ends the process with `signal` (SIGTERM: a graceful shutdown) and waits for its exit. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolveExit) => this.child.once('exit', resolveExit));
    this.child.kill(signal);
    await exited;
  }

  async call(
    method: string,
    path: string,
    options: { agentId?: string; sessionKey?: string; json?: unknown } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const headers: Record<string, string> = {};
    if (options.agentId) headers['X-Agent-Id'] = options.agentId;
    if (options.sessionKey) headers['X-Session-Key'] = options.sessionKey;
    if (options.json !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers,
      ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** Every message of the session, following hasMore. */
  async allMessages(
    sessionId: string,
    agentId: string,
  ): Promise<{ cursor: string; text: string }[]> {
    const all: { cursor: string; text: string }[] = [];
    let after = '0';
    for (;;) {
      const { body } = await this.call(
        'GET',
        `/v1/sessions/${sessionId}/messages?after=${after}&limit=1000`,
        { agentId },
      );
      const messages = body.messages as { cursor: string; text: string }[];
      all.push(...messages);
      after = body.nextCursor as string;
      if (!body.hasMore) return all;
    }
  }
}
