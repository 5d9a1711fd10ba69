import type { z } from 'zod';
import { PROTOCOL_ERRORS, type ProtocolErrorCode } from '../protocol/index.js';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** A protocol error the relay answers with; routes throw it, the error handler renders it. */
export class RelayError extends Error {
  readonly code: ProtocolErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    code: ProtocolErrorCode,
    message?: string,
    extra: { status?: number; details?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message ?? PROTOCOL_ERRORS[code].hint);
    this.name = 'RelayError';
    this.code = code;
    this.status = extra.status ?? PROTOCOL_ERRORS[code].status;
    this.details = extra.details;
    this.headers = extra.headers ?? {};
  }

  toBody(): { error: string; message: string; details?: ErrorDetail[] } {
    return this.details
      ? { error: this.code, message: this.message, details: this.details }
      : { error: this.code, message: this.message };
  }
}

export function detailsFromZod(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

export function invalidRequest(path: string, message: string): RelayError {
  return new RelayError('invalid_request', `Invalid ${path || 'request'}: ${message}`, {
    details: [{ path, message }],
  });
}
