/**
 * Secret redaction: the relay applies it to every message before storing it, and the client to
 * every body before sending it (`outgoing.ts`), so both use these patterns. Patterns favour precision:
 * ordinary prose ("the secret of success", "a token of appreciation") must pass untouched,
 * so the generic `key: value` rule only fires on values that look like credentials.
 * Every quantifier that can backtrack is bounded, so a hostile 32 KiB message stays linear.
 */

export type SecretType =
  | 'private_key'
  | 'jwt'
  | 'aws_access_key'
  | 'github_token'
  | 'gitlab_token'
  | 'slack_token'
  | 'api_key'
  | 'bearer_token'
  | 'password'
  | 'secret'
  | 'token';

export interface Redaction<T> {
  value: T;
  count: number;
}

interface Rule {
  type: SecretType;
  pattern: RegExp;
  /** The replacement for a match, or undefined to leave it alone. Default: the whole match. */
  replace?: (match: RegExpExecArray, marker: string) => string | undefined;
}

const marker = (type: SecretType): string => `[REDACTED:${type}]`;

/** Identifier names whose value is a secret: the key must end with one of these. */
const SECRET_KEY_WORDS: ReadonlyArray<[RegExp, SecretType]> = [
  [/(?:password|passwd|passphrase)$/i, 'password'],
  [/(?:api[_-]?key|apikey)$/i, 'api_key'],
  [/(?:secret|secret[_-]?key|private[_-]?key|access[_-]?key)$/i, 'secret'],
  [/token$/i, 'token'],
];
const KEY_WORD_SOURCE =
  'password|passwd|passphrase|api[_-]?key|apikey|secret[_-]?key|private[_-]?key|access[_-]?key|secret|token';

function secretTypeOfKey(key: string): SecretType | undefined {
  if (!/^[A-Za-z0-9_.-]{1,80}$/.test(key)) return undefined;
  return SECRET_KEY_WORDS.find(([pattern]) => pattern.test(key))?.[1];
}

/**
 * Unquoted values after `key:` must look machine-made, not like the next word of a sentence:
 * a digit, a symbol prose does not use inside words, or a capital after a small letter.
 */
function looksLikeCredential(value: string): boolean {
  if (value.length < 6 || /^https?:\/\//i.test(value)) return false;
  return /[0-9_/+=$!@#%^&*~]/.test(value) || /[a-z][A-Z]/.test(value);
}

const RULES: readonly Rule[] = [
  {
    type: 'private_key',
    // An unterminated block is redacted to the end: half a key is still a key.
    pattern:
      /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY-----[\s\S]*?(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY-----|$)/g,
  },
  { type: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g },
  {
    type: 'aws_access_key',
    pattern: /\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|AGPA)[A-Z0-9]{16}\b/g,
  },
  {
    type: 'github_token',
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})\b/g,
  },
  { type: 'gitlab_token', pattern: /\bgl(?:pat|dt|rt|ptt|cbt|soat|ft)-[A-Za-z0-9_-]{20,255}/g },
  { type: 'slack_token', pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,255}/g },
  {
    type: 'api_key',
    // OpenAI and Anthropic (sk-, sk-proj-, sk-ant-…); a digit is required so hyphenated words
    // that happen to start with "sk-" survive.
    pattern: /(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]{0,255}[0-9])[A-Za-z0-9_-]{20,255}/g,
  },
  {
    type: 'api_key',
    pattern: /\b(?:[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}|AIza[A-Za-z0-9_-]{35})/g,
  },
  {
    type: 'bearer_token',
    pattern: /\b(Bearer\s+)([A-Za-z0-9._~+/-]{16,4096}=*)/gi,
    replace: (match, redacted) => {
      const token = match[2] ?? '';
      // "Bearer bonds-of-the-old-days" is prose; real tokens carry digits or are long.
      if (!/[0-9]/.test(token) && token.length < 32) return undefined;
      return `${match[1]}${redacted}`;
    },
  },
  {
    type: 'password',
    // scheme://user:password@host
    pattern: /\b([a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/?#@]{1,256}:)([^\s/?#@]{1,256})@/gi,
    replace: (match, redacted) =>
      match[2]?.startsWith('[REDACTED:') ? undefined : `${match[1]}${redacted}@`,
  },
];

/** `password=…`, `"api_key": "…"`, `DB_PASSWORD: …`: only the value is replaced. */
const ASSIGNMENT = new RegExp(
  `(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]{0,64}?(?:${KEY_WORD_SOURCE}))(["']?)(\\s{0,8})([:=])(\\s{0,8})` +
    `(?!\\[REDACTED:)("[^"\\n]{1,512}"|'[^'\\n]{1,512}'|[^\\s"',;&=][^\\s"',;&]{0,511})`,
  'gi',
);

/** Settings, not secrets: `secret = true`, `password: none`. */
const PLAIN_WORDS =
  /^(?:true|false|null|nil|none|undefined|yes|no|on|off|empty|required|optional)$/i;

function redactAssignment(match: RegExpExecArray): string | undefined {
  const [, key = '', quote = '', space1 = '', separator = '', space2 = '', rawValue = ''] = match;
  const type = secretTypeOfKey(key);
  if (!type) return undefined;
  const quoted = rawValue.startsWith('"') || rawValue.startsWith("'");
  // Trailing sentence punctuation is not part of the value.
  const value = quoted ? rawValue : rawValue.replace(/[.!?:)\]]+$/, '');
  if (value === '' || value.slice(quoted ? 1 : 0).startsWith('[REDACTED:')) return undefined;
  if (!quoted && PLAIN_WORDS.test(value)) return undefined;
  if (!quoted && separator === ':' && !looksLikeCredential(value)) return undefined;
  const replaced = quoted
    ? `${rawValue[0]}${marker(type)}${rawValue[0]}`
    : `${marker(type)}${rawValue.slice(value.length)}`;
  return `${key}${quote}${space1}${separator}${space2}${replaced}`;
}

function applyRule(
  text: string,
  pattern: RegExp,
  replace: (match: RegExpExecArray) => string | undefined,
): Redaction<string> {
  let out = '';
  let last = 0;
  let count = 0;
  for (const match of text.matchAll(pattern)) {
    const replacement = replace(match);
    if (replacement === undefined) continue;
    out += text.slice(last, match.index) + replacement;
    last = match.index + match[0].length;
    count++;
  }
  return count === 0 ? { value: text, count } : { value: out + text.slice(last), count };
}

/**
 * Text no rule above can match lacks all of these (each rule, ASSIGNMENT included, needs one of
 * them; the flag `i` only widens the net). One scan instead of eleven for ordinary messages:
 * redaction was the largest part of a relay send's own work.
 */
const MAY_HOLD_SECRET =
  /pass|key|secret|token|eyJ|AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|AGPA|gh[pousr]_|github_pat_|gl(?:pat|dt|rt|ptt|cbt|soat|ft)-|xox[abprs]-|sk-|[sr]k_(?:live|test)_|AIza|bearer|:\/\//i;

/** Replaces secrets in `text` with `[REDACTED:<type>]`; `count` says how many. */
export function redactSecrets(text: string): { text: string; count: number } {
  if (!MAY_HOLD_SECRET.test(text)) return { text, count: 0 };
  let value = text;
  let count = 0;
  for (const rule of RULES) {
    const redacted = marker(rule.type);
    const result = applyRule(value, rule.pattern, (match) =>
      rule.replace ? rule.replace(match, redacted) : redacted,
    );
    value = result.value;
    count += result.count;
  }
  const assignments = applyRule(value, ASSIGNMENT, redactAssignment);
  return { text: assignments.value, count: count + assignments.count };
}

/**
 * Redacts every string inside a JSON value; a string under a secret-named key
 * (`{"password": "hunter2"}`) is replaced whole.
 */
export function redactJson(input: unknown): Redaction<unknown> {
  if (typeof input === 'string') {
    const { text, count } = redactSecrets(input);
    return { value: text, count };
  }
  if (Array.isArray(input)) {
    let count = 0;
    const value = input.map((item) => {
      const result = redactJson(item);
      count += result.count;
      return result.value;
    });
    return { value, count };
  }
  if (input !== null && typeof input === 'object') {
    let count = 0;
    const entries = Object.entries(input).map(([key, item]): [string, unknown] => {
      const type = secretTypeOfKey(key);
      if (type && typeof item === 'string' && item !== '' && !item.startsWith('[REDACTED:')) {
        count++;
        return [key, marker(type)];
      }
      const result = redactJson(item);
      count += result.count;
      return [key, result.value];
    });
    // fromEntries defines own properties, so a "__proto__" key stays data, not a prototype.
    return { value: Object.fromEntries(entries), count };
  }
  return { value: input, count: 0 };
}
