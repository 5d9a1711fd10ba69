/** Starts bench/relay-child.ts as a child process and talks to it over IPC. */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { RelayOptions } from '../../src/relay/index.js';
import { profileArgs, ROOT, withTimeout } from './util.ts';

export type ChildRequest =
  | { id: number; cmd: 'memory'; args?: undefined }
  | {
      id: number;
      cmd: 'fill';
      args: {
        sessionId: string;
        agentId: string;
        sessionKey?: string;
        count: number;
        chars: number;
      };
    }
  | { id: number; cmd: 'sessions'; args: { count: number; messages: number; chars: number } }
  | { id: number; cmd: 'fillAll'; args: { messages: number; chars: number } };

export type ChildReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };

type Command = ChildRequest['cmd'];
type ArgsOf<C extends Command> = Extract<ChildRequest, { cmd: C }>['args'];

/** What every benchmark relay runs with: no rate limit, loopback only. */
export const BENCH_RELAY_OPTIONS: RelayOptions = {
  rateLimitPerMinute: 0,
  maxAgents: 64,
};

export interface RelayChild {
  url: string;
  pid: number;
  call<C extends Command>(cmd: C, args?: ArgsOf<C>): Promise<unknown>;
  memory(): Promise<NodeJS.MemoryUsage>;
  close(): Promise<void>;
}

const children = new Set<ChildProcess>();

/** Kills every relay child still running (the runner calls it on the way out). */
export function killRelayChildren(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

export async function startRelayChild(
  options: RelayOptions = {},
  run: { profile?: string } = {},
): Promise<RelayChild> {
  const child = fork(
    join(ROOT, 'bench', 'relay-child.ts'),
    [JSON.stringify({ ...BENCH_RELAY_OPTIONS, ...options })],
    {
      execArgv: [
        ...process.execArgv.filter((arg) => !arg.startsWith('--cpu-prof')),
        '--expose-gc',
        ...profileArgs(run.profile),
      ],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  children.add(child);
  let next = 1;
  const pending = new Map<number, (reply: ChildReply) => void>();
  child.on('message', (reply: ChildReply) => {
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<ChildReply>((resolve, reject) => {
    pending.set(0, resolve);
    child.once('exit', (code) => reject(new Error(`relay child exited early (${code})`)));
  });
  const first = await withTimeout('relay child start', ready, 15_000);
  if (!first.ok) throw new Error(first.error);
  const { url } = first.result as { url: string };

  const call = async <C extends Command>(cmd: C, args?: ArgsOf<C>): Promise<unknown> => {
    const id = next++;
    const reply = new Promise<ChildReply>((resolve) => pending.set(id, resolve));
    child.send({ id, cmd, args });
    const answer = await withTimeout(`relay child ${cmd}`, reply, 120_000);
    if (!answer.ok) throw new Error(answer.error);
    return answer.result;
  };

  return {
    url,
    pid: child.pid ?? -1,
    call,
    memory: async () => (await call('memory')) as NodeJS.MemoryUsage,
    async close() {
      if (child.exitCode === null && child.connected) child.disconnect();
      await withTimeout('relay child exit', exited, 10_000).catch(() => child.kill('SIGKILL'));
      children.delete(child);
    },
  };
}
