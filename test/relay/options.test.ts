import { describe, expect, it } from 'vitest';
import { loadRelayOptionsFromEnv } from '../../src/relay/index.js';
import { parseStore } from '../../src/relay/options.js';

describe('loadRelayOptionsFromEnv', () => {
  it('reads every variable', () => {
    expect(
      loadRelayOptionsFromEnv({
        HOST: '0.0.0.0',
        PORT: '9000',
        DATA_DIR: '/var/lib/nexus',
        PUBLIC_URL: 'https://relay.example/nexus',
        MAX_TTL_SECONDS: '7200',
        MAX_AGENTS: '10',
        DEFAULT_MAX_AGENTS: '5',
        AGENT_INACTIVITY_SECONDS: '300',
        PAIR_CODE_TTL_SECONDS: '120',
        RATE_LIMIT_PER_MINUTE: '0',
        MAX_MESSAGE_BYTES: '65536',
        MAX_MESSAGES_PER_SESSION: '100000',
        LONG_POLL: '0',
        RELAY_STORE: 'redis://127.0.0.1:6379/2',
        TRUST_PROXY: '1',
        MAX_SESSIONS_PER_IP: '50',
      }),
    ).toEqual({
      host: '0.0.0.0',
      port: 9000,
      dataDir: '/var/lib/nexus',
      publicUrl: 'https://relay.example/nexus',
      maxTtlSeconds: 7200,
      maxAgents: 10,
      defaultMaxAgents: 5,
      agentInactivitySeconds: 300,
      pairCodeTtlSeconds: 120,
      rateLimitPerMinute: 0,
      maxMessageBytes: 65536,
      maxMessagesPerSession: 100000,
      longPoll: false,
      store: 'redis://127.0.0.1:6379/2',
      trustProxy: true,
      maxSessionsPerIp: 50,
    });
  });

  it('leaves unset and empty variables to the defaults', () => {
    expect(loadRelayOptionsFromEnv({ PORT: '', HOME: '/root', LONG_POLL: '1' })).toEqual({
      longPoll: true,
    });
  });

  it('refuses malformed values, naming the variable', () => {
    expect(() => loadRelayOptionsFromEnv({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadRelayOptionsFromEnv({ MAX_AGENTS: '-1' })).toThrow(/MAX_AGENTS/);
    expect(() => loadRelayOptionsFromEnv({ LONG_POLL: 'maybe' })).toThrow(/LONG_POLL/);
  });
});

describe('parseStore', () => {
  it('reads the three stores, and picks SQLite in the data dir, else memory, when none is named', () => {
    expect(parseStore('memory', '/d')).toEqual({ kind: 'memory' });
    expect(parseStore('sqlite:/x/relay.db', undefined)).toEqual({
      kind: 'sqlite',
      path: '/x/relay.db',
    });
    expect(parseStore('sqlite', '/d')).toEqual({ kind: 'sqlite', path: '/d/relay.db' });
    expect(parseStore('redis://h:6379/1', undefined, 'p:')).toEqual({
      kind: 'redis',
      url: 'redis://h:6379/1',
      keyPrefix: 'p:',
    });
    expect(parseStore(undefined, '/d')).toEqual({ kind: 'sqlite', path: '/d/relay.db' });
    expect(parseStore(undefined, undefined)).toEqual({ kind: 'memory' });
  });

  it('refuses anything else with the accepted forms', () => {
    for (const bad of ['postgres://db', 'sqlite:', 'redis://', 'file.db']) {
      expect(() => parseStore(bad, undefined)).toThrow(/memory, sqlite:PATH or redis:\/\//);
    }
    expect(() => parseStore('sqlite', undefined)).toThrow(/--data-dir/);
  });
});
