/**
 * The store cannot be used as it is (unreadable, foreign or newer file, unreachable server).
 * The message is one line naming the file or address and what to do; the relay refuses to start.
 */
export class StoreRefused extends Error {
  override readonly name = 'StoreRefused';
}
