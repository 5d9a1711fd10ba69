import { randomInt } from 'node:crypto';
import { wordlist } from '@scure/bip39/wordlists/english.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * `WORD-WORD-XXXXX`: two BIP-39 English words (real words humans can read aloud) and five
 * RFC 4648 base32 characters, all from the CSPRNG: 11 + 11 + 25 = 47 bits, unrelated to the
 * session id.
 */
export function generatePairCode(): string {
  const word = (): string => (wordlist[randomInt(wordlist.length)] as string).toUpperCase();
  let tail = '';
  for (let i = 0; i < 5; i++) tail += BASE32[randomInt(BASE32.length)];
  return `${word()}-${word()}-${tail}`;
}
