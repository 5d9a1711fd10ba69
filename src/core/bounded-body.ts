/**
 * Reads a relay's response body with a byte cap. A link names its relay, so any pasted link can
 * point this server at a server that answers with an endless body: past the cap the connection
 * is dropped and the call fails, so memory stays bounded whatever a relay sends.
 */
import type { Readable } from 'node:stream';
import { NexusError } from './errors.js';

export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** `NEXUS_MAX_RESPONSE_BYTES` when it is a positive whole number, else 8 MiB. */
export function maxResponseBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.NEXUS_MAX_RESPONSE_BYTES?.trim();
  const value = raw && /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(value) ? value : DEFAULT_MAX_RESPONSE_BYTES;
}

export interface BoundedReadOptions {
  maxBytes?: number;
  /** The request's signal: aborting it ends the read like any transport failure. */
  signal?: AbortSignal;
  /** The response's Content-Length, when sent: a body announced too large is not read at all. */
  contentLength?: string | string[] | undefined;
  /**
   * What was asked, for the error message (`GET /v1/sessions/…/messages`); a function is called
   * only when the error is made, keeping the wording off every request's path.
   */
  what?: string | (() => string);
}

/** A body that can also read itself whole (undici's), which is cheaper than iterating it. */
type Body = Readable & { text?: () => Promise<string> };

const WHOLE_NUMBER = /^\d{1,15}$/;

export function responseTooLarge(maxBytes: number, what: BoundedReadOptions['what']): NexusError {
  const asked = (typeof what === 'function' ? what() : what) ?? 'The request';
  return new NexusError({
    code: 'response_too_large',
    message: `${asked} was answered with a body larger than ${maxBytes} bytes; the connection was dropped.`,
  });
}

/** The body as UTF-8 text, or `response_too_large` once more than `maxBytes` arrive. */
export async function readBoundedText(
  body: Body,
  options: BoundedReadOptions = {},
): Promise<string> {
  const maxBytes = options.maxBytes ?? maxResponseBytes();
  const length = Array.isArray(options.contentLength)
    ? options.contentLength[0]
    : options.contentLength;
  const announced = Number(length);
  if (Number.isFinite(announced) && announced > maxBytes) {
    body.destroy();
    throw responseTooLarge(maxBytes, options.what);
  }
  // A Content-Length within the cap bounds the read already: the HTTP parser delivers exactly
  // that many bytes, so a body that reads itself whole may (and is cheaper than iterating).
  if (body.text && length !== undefined && WHOLE_NUMBER.test(length)) return body.text();
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of body) {
    if (options.signal?.aborted) {
      body.destroy();
      throw options.signal.reason ?? new Error('aborted');
    }
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    received += buffer.length;
    if (received > maxBytes) {
      // Destroying an undici body aborts the request and closes its socket.
      body.destroy();
      throw responseTooLarge(maxBytes, options.what);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, received).toString('utf8');
}
