/**
 * JSON payloads from relays, taken apart without recursion: a depth and size guard, objects
 * rebuilt with a null prototype so `__proto__`, `constructor` and friends stay plain data, and a
 * bounded serialisation for payloads that cannot be delivered as they are.
 */

/** Deeper payloads are not delivered as JSON: every consumer (zod, JSON.stringify) recurses. */
export const MAX_JSON_DEPTH = 100;
/** Values (objects, arrays, primitives) one payload may hold. */
export const MAX_JSON_NODES = 200_000;

export type GuardedJson =
  | { ok: true; value: unknown }
  | { ok: false; reason: 'too_deep' | 'too_large' | 'not_json' };

type Container = Record<string, unknown> | unknown[];

/**
 * The value `text` holds as JSON, or undefined when it is not JSON (JSON.parse never answers
 * undefined): for files and bodies whose bad text is simply "none".
 */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function define(target: Container, key: string | number, value: unknown): void {
  if (Array.isArray(target)) target[key as number] = value;
  // defineProperty, not assignment: `__proto__` must become an own key, never a prototype.
  else
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

/**
 * Copies a parsed JSON value iteratively, checking depth and size; objects come out with a null
 * prototype. Anything that is not a JSON kind (a function, a date) answers `not_json`.
 */
export function guardJson(input: unknown): GuardedJson {
  let nodes = 0;
  const copy = (value: unknown): { leaf: unknown } | { container: Container } | null => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean')
      return { leaf: value };
    if (typeof value === 'number') return Number.isFinite(value) ? { leaf: value } : null;
    if (Array.isArray(value)) return { container: [] };
    if (typeof value === 'object') {
      const proto = Object.getPrototypeOf(value);
      return proto === Object.prototype || proto === null
        ? { container: Object.create(null) as Record<string, unknown> }
        : null;
    }
    return null;
  };
  const root = copy(input);
  if (!root) return { ok: false, reason: 'not_json' };
  if ('leaf' in root) return { ok: true, value: root.leaf };
  const stack: { source: object; target: Container; keys: string[]; next: number }[] = [
    {
      source: input as object,
      target: root.container,
      keys: Object.keys(input as object),
      next: 0,
    },
  ];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as (typeof stack)[number];
    if (frame.next >= frame.keys.length) {
      stack.pop();
      continue;
    }
    const key = frame.keys[frame.next++] as string;
    if (++nodes > MAX_JSON_NODES) return { ok: false, reason: 'too_large' };
    const child = (frame.source as Record<string, unknown>)[key];
    const made = copy(child);
    if (!made) return { ok: false, reason: 'not_json' };
    const slot = Array.isArray(frame.target) ? Number(key) : key;
    if ('leaf' in made) {
      define(frame.target, slot, made.leaf);
      continue;
    }
    define(frame.target, slot, made.container);
    if (stack.length >= MAX_JSON_DEPTH) return { ok: false, reason: 'too_deep' };
    stack.push({
      source: child as object,
      target: made.container,
      keys: Object.keys(child as object),
      next: 0,
    });
  }
  return { ok: true, value: root.container };
}

/**
 * Compact JSON text of any parsed value, at most `max` characters, written without recursion
 * (JSON.stringify overflows the stack on deep input).
 */
export function jsonExcerpt(input: unknown, max: number): string {
  let out = '';
  type Item = { kind: 'value'; value: unknown } | { kind: 'text'; text: string };
  const todo: Item[] = [{ kind: 'value', value: input }];
  while (todo.length > 0 && out.length < max) {
    const item = todo.pop() as Item;
    if (item.kind === 'text') {
      out += item.text;
      continue;
    }
    const value = item.value;
    if (Array.isArray(value)) {
      const items: Item[] = [{ kind: 'text', text: '[' }];
      value.forEach((element, index) => {
        if (index > 0) items.push({ kind: 'text', text: ',' });
        items.push({ kind: 'value', value: element });
      });
      items.push({ kind: 'text', text: ']' });
      todo.push(...items.reverse());
    } else if (value !== null && typeof value === 'object') {
      const items: Item[] = [{ kind: 'text', text: '{' }];
      Object.keys(value).forEach((key, index) => {
        items.push({ kind: 'text', text: `${index > 0 ? ',' : ''}${JSON.stringify(key)}:` });
        items.push({ kind: 'value', value: (value as Record<string, unknown>)[key] });
      });
      items.push({ kind: 'text', text: '}' });
      todo.push(...items.reverse());
    } else {
      out += JSON.stringify(value) ?? 'null';
    }
  }
  return out.length > max || todo.length > 0 ? `${out.slice(0, Math.max(0, max - 1))}…` : out;
}
