/** Starts our real relay on 127.0.0.1:0 for a test, with limits that suit tests. */
import { type RelayOptions, type RunningRelay, startRelay } from '../../src/relay/index.js';
import { cleanup } from './cleanup.js';

export async function useRelay(options: RelayOptions = {}): Promise<RunningRelay> {
  const relay = await startRelay({
    host: '127.0.0.1',
    port: 0,
    rateLimitPerMinute: 0,
    log: () => undefined,
    ...options,
  });
  cleanup(() => relay.close());
  return relay;
}
