/**
 * What can go wrong with end-to-end encryption. Decrypt failures are per message and become the
 * message's `e2e_error`; the others are thrown as `E2eError` and answer a send or a pasted link.
 * No message here ever contains key material.
 */
export type E2eDecryptError =
  | 'malformed'
  | 'unsupported_version'
  | 'wrong_key'
  | 'no_key'
  | 'tampered'
  | 'replayed';

export const E2E_DECRYPT_HINTS: Record<E2eDecryptError, string> = {
  malformed:
    'The encrypted message is damaged and cannot be read; ask the sender to send it again.',
  unsupported_version:
    'The message was encrypted by a newer client; update nexus-messaging-mcp to read it.',
  wrong_key:
    'The message was encrypted with a different key than this session holds; ask the sender for a fresh full link.',
  no_key:
    'This session is encrypted and its key is missing: claim or join again with the full link (the part after # holds the key).',
  tampered:
    'The message failed its integrity check (altered, moved from another session or re-attributed by the relay); it was not shown.',
  replayed: 'The relay delivered this message a second time; the repeat was not shown.',
};

export type E2eUsageError =
  | 'invalid_e2e_link'
  | 'unsupported_e2e_version'
  | 'plaintext_too_large'
  | 'invalid_payload';

export class E2eError extends Error {
  override readonly name = 'E2eError';
  constructor(
    readonly code: E2eUsageError,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}
