/**
 * The MCP half of the inbox's commit rule (src/core/inbox.ts): remembers what each recent tool
 * call handed over, and gives it back when the host cancels that call after all. A host that
 * cancels a request drops its answer, even one already on the wire; per the MCP spec the
 * cancellation can arrive after the answer was sent, so the SDK (which has already forgotten the
 * request) cannot tell us. This sees the notification on the transport.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Delivery } from '../core/index.js';

/** Answers remembered; a host cancels within moments of the answer, not a hundred calls later. */
const REMEMBERED = 256;

type RequestId = string | number;

export class DeliveryLedger {
  private readonly recent = new Map<RequestId, readonly Delivery[]>();

  constructor(private readonly giveBack: (deliveries: readonly Delivery[]) => void) {}

  /**
   * Called as a tool call that handed messages over returns. A signal already aborted means the
   * SDK will not send the answer: give the messages back at once.
   */
  record(requestId: RequestId, deliveries: readonly Delivery[], signal: AbortSignal): void {
    if (deliveries.length === 0) return;
    if (signal.aborted) {
      this.giveBack(deliveries);
      return;
    }
    this.recent.set(requestId, deliveries);
    if (this.recent.size > REMEMBERED) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  /** The host cancelled `requestId`: whatever it handed over never reached the model. */
  cancelled(requestId: RequestId): void {
    const deliveries = this.recent.get(requestId);
    if (!deliveries) return;
    this.recent.delete(requestId);
    this.giveBack(deliveries);
  }

  /** Watches a connected transport for `notifications/cancelled`, leaving the SDK's handling as is. */
  watch(transport: Transport): void {
    const forward = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if (
        'method' in message &&
        message.method === 'notifications/cancelled' &&
        !('id' in message)
      ) {
        const requestId = (message.params as { requestId?: RequestId } | undefined)?.requestId;
        if (requestId !== undefined) this.cancelled(requestId);
      }
      forward?.(message, extra);
    };
  }
}
