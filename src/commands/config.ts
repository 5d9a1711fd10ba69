/**
 * `config`: the settings the MCP server would run with, and where each one comes from, so a
 * human can tell why it talks to the relay it does. Reads the store; never writes an agent id.
 */
import {
  configFromEnv,
  createLogger,
  defaultStoreDir,
  PUBLIC_RELAY_URL,
  SessionStore,
} from '../core/index.js';

export type SettingSource = 'flag' | 'env' | 'saved' | 'default';

export interface Setting {
  value: string | null;
  source: SettingSource;
  note?: string;
}

export interface EffectiveConfig {
  relayUrl: Setting;
  agentId: Setting;
  storeDir: Setting;
}

export function effectiveConfig(
  env: NodeJS.ProcessEnv,
  flags: { url?: string } = {},
): EffectiveConfig {
  const config = configFromEnv(env, flags);
  const storeDir: Setting =
    config.home === undefined
      ? { value: defaultStoreDir(), source: 'default' }
      : { value: config.home, source: 'env', note: 'NEXUS_MCP_HOME' };
  const store = new SessionStore({
    dir: storeDir.value ?? defaultStoreDir(),
    logger: createLogger(() => undefined),
  });
  const saved = store.read();

  let relayUrl: Setting;
  if (config.url !== undefined && flags.url !== undefined)
    relayUrl = { value: config.url, source: 'flag', note: '--url' };
  else if (config.url !== undefined)
    relayUrl = { value: config.url, source: 'env', note: 'NEXUS_URL' };
  else if (saved.defaultServer !== undefined)
    relayUrl = { value: saved.defaultServer, source: 'saved', note: 'nexus-messaging-mcp set-url' };
  else relayUrl = { value: PUBLIC_RELAY_URL, source: 'default' };

  let agentId: Setting;
  if (config.agentId !== undefined)
    agentId = { value: config.agentId, source: 'env', note: 'NEXUS_AGENT_ID' };
  else if (saved.defaultAgentId !== undefined)
    agentId = { value: saved.defaultAgentId, source: 'saved', note: 'generated for this store' };
  else agentId = { value: null, source: 'default', note: 'generated on first use, then saved' };

  return { relayUrl, agentId, storeDir };
}

export function runConfig(env: NodeJS.ProcessEnv, flags: { url?: string }): number {
  const config = effectiveConfig(env, flags);
  const rows: [string, Setting][] = [
    ['relay URL', config.relayUrl],
    ['agent id', config.agentId],
    ['store', config.storeDir],
  ];
  for (const [name, setting] of rows) {
    const from = setting.note ? `${setting.source}: ${setting.note}` : setting.source;
    process.stdout.write(`${`${name}:`.padEnd(11)}${setting.value ?? '(none yet)'}  (${from})\n`);
  }
  return 0;
}
