import { LocalRequestWindows } from './rate-limit.js';
import type { MessageListener } from './storage.js';

/**
 * What the stores owned by one process share: message listeners told directly (nothing to
 * subscribe to across processes) and request windows counted in memory.
 */
export abstract class LocalStorageBase {
  private readonly listeners = new Set<MessageListener>();
  protected readonly requests = new LocalRequestWindows();

  subscribe(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One process: every append already reaches the listeners. */
  async watch(): Promise<() => void> {
    return () => {};
  }

  async countRequest(address: string, now: number) {
    return this.requests.count(address, now);
  }

  protected notify(sessionId: string, cursor: number): void {
    for (const listener of this.listeners) listener(sessionId, cursor);
  }

  protected forgetListeners(): void {
    this.listeners.clear();
  }
}
