/**
 * The one sanitiser for text that relays and peers control (message text, greetings, agent ids,
 * aliases, relay error text) before it reaches a model or a terminal. A peer must never be able
 * to start a line the tool did not write, steer a terminal, reorder what is shown (bidi), or
 * hide text (zero-width, tag characters).
 */
import { AGENT_ID_PATTERN } from './formats.js';

/** Every line-break class a renderer or terminal may honour. */
const LINE_BREAKS = /\r\n|[\r\n\v\f\u0085\u2028\u2029]/g;
/** Any character `cleanText` might change or remove. */
const NEEDS_CLEANING = /[^\t\n\x20-\x7e]/;

/**
 * Terminal escape sequences, removed whole: CSI (7- and 8-bit), OSC/DCS/PM/APC strings with
 * their terminator, and two-character ESC sequences. An unterminated string is not removed;
 * its ESC is then shown escaped like any other control.
 */
const ESCAPE_SEQUENCES = new RegExp(
  [
    '\\u001b\\[[0-?]*[ -/]*[@-~]',
    '\\u009b[0-?]*[ -/]*[@-~]',
    '(?:\\u001b[\\]P^_X]|[\\u0090\\u009d\\u009e\\u009f\\u0098])[^\\u0007\\u001b\\u009c]*(?:\\u0007|\\u001b\\\\|\\u009c)',
    '\\u001b[@-Z\\\\-_]',
  ].join('|'),
  'g',
);

/**
 * Shown escaped: C0 and C1 controls other than \n and \t, bidi controls and marks, zero-width
 * and invisible formatting characters, interlinear annotations, tag characters (invisible
 * "ASCII smuggling") and lone surrogates. Line breaks are listed too, for one-line contexts.
 */
const UNSAFE = new RegExp(
  [
    '[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]',
    '[\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180e]',
    '[\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\u3164\\ufeff\\uffa0\\ufff9-\\ufffb]',
    '[\\u{e0000}-\\u{e007f}]',
    '\\p{Surrogate}',
  ].join('|'),
  'gu',
);

/** What counts as unsafe in any output: the test suites assert on this too. */
export function hasUnsafeCharacters(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text);
}

function escapeChar(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return code > 0xffff
    ? `\\u{${code.toString(16).toUpperCase()}}`
    : `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Escapes every unsafe character, \r and the line separators included; keeps \n and \t. */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * Untrusted text for structured output: every line break becomes `\n`, escape sequences go,
 * every other unsafe character is shown escaped (`\u202E`).
 */
export function cleanText(text: string): string {
  // Printable ASCII, tabs and newlines: nothing below would change it (the common case, and
  // every field of every result goes through here).
  if (!NEEDS_CLEANING.test(text)) return text;
  return escapeUnsafe(text.replace(LINE_BREAKS, '\n').replace(ESCAPE_SEQUENCES, ''));
}

/** Untrusted text inside a rendered line: continuation lines are indented, never at column 0. */
export function indentText(text: string, indent = '  '): string {
  return cleanText(text).replace(/\n/g, `\n${indent}`);
}

/** Untrusted text folded onto one line: whitespace runs become one space. */
export function oneLine(text: string): string {
  return cleanText(text).replace(/\s+/g, ' ').trim();
}

/** Cuts to at most `max` characters (an ellipsis included), never inside a surrogate pair. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

export const REFERENCE_CHARS = 60;

/** An argument echoed back in an error: one line, escaped, about 60 characters at most. */
export function cutReference(value: string, max = REFERENCE_CHARS): string {
  return JSON.stringify(cut(oneLine(value), max));
}

/**
 * An agent id (or alias) as shown to a model: as it is when it matches the protocol's
 * pattern, else quoted with every other character escaped and cut, so it can neither break a
 * line nor pass for a well-formed id.
 */
export function showId(value: string): string {
  if (AGENT_ID_PATTERN.test(value)) return value;
  const escaped = [...cut(value, REFERENCE_CHARS)]
    .map((char) => (/[A-Za-z0-9_.\- …]/.test(char) ? char : escapeChar(char)))
    .join('');
  return `"${escaped}"`;
}

/** A value to keep out of any text (a key, a full session id) and what to show instead. */
export interface SecretScrub {
  value: string;
  replacement: string;
}

export const RELAY_TEXT_CHARS = 500;
/** Longer runs of id-like characters in relay text are cut: ids and keys are never shown whole. */
const LONG_TOKEN = /[A-Za-z0-9_-]{40,}/g;

/** Replaces every exact secret, then every long id-like token. Done before anything is cut. */
export function scrubSecrets(text: string, scrub: readonly SecretScrub[] = []): string {
  let out = text;
  for (const { value, replacement } of scrub) if (value) out = out.split(value).join(replacement);
  return out.replace(LONG_TOKEN, (token) => `${token.slice(0, 12)}…`);
}

/**
 * Text a relay wrote (an error message, a proxy's page): secrets scrubbed FIRST, so a cut can
 * never leave part of one behind, markup dropped, folded to one escaped line, cut to
 * `max` characters.
 */
export function boundRelayText(
  text: string,
  scrub: readonly SecretScrub[] = [],
  max = RELAY_TEXT_CHARS,
): string {
  const scrubbed = scrubSecrets(text, scrub);
  // Markup is stripped from a bounded head only: an 8 MiB page need not be scanned whole.
  const plain = scrubbed
    .slice(0, max * 64)
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ');
  // Scrubbed again once escapes and controls are gone: a secret split by them is whole again.
  return cut(scrubSecrets(oneLine(scrubSecrets(plain, scrub)), scrub), max) || '(empty body)';
}

/** Relay text framed as what it is: words of a server we may not control. */
export function frameRelayText(text: string, scrub: readonly SecretScrub[] = []): string {
  return `relay text (untrusted): ${JSON.stringify(boundRelayText(text, scrub))}`;
}
