/**
 * Schema pieces shaped for models: numbers with their real bounds, refusals that name the
 * field, the bound and the value, and JSON values described instead of left as a bare `{}`.
 */
import { z } from 'zod';

/** `<field> must be … (got <value>)`: a refusal that names the field, the bound and the value. */
export function refusalText(field: string, rule: string) {
  return {
    error: (issue: { input?: unknown }) => `${field} ${rule} (got ${JSON.stringify(issue.input)})`,
  };
}

/** A whole number in [min, max]; a value outside is refused naming the field, bound and value. */
export function boundedInt(field: string, min: number, max: number) {
  return z
    .number(refusalText(field, 'must be a number'))
    .int(refusalText(field, 'must be a whole number'))
    .min(min, refusalText(field, `must be at least ${min}`))
    .max(max, refusalText(field, `must be at most ${max}`));
}

/** A number from `min` up; `advertised` is the largest value the schema tells models about. */
export function numberFrom(field: string, min: number, advertised?: number) {
  const schema = z
    .number(refusalText(field, 'must be a number'))
    .min(min, refusalText(field, `must be at least ${min}`));
  return advertised === undefined ? schema : schema.meta({ maximum: advertised });
}

/**
 * Any JSON value, said explicitly: a bare `{}` schema is rejected by single-type dialects
 * (Gemini) and tells a model nothing.
 */
export const JsonValueOut = z.unknown().meta({
  anyOf: [
    { type: 'object', additionalProperties: true },
    { type: 'array', items: true },
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'null' },
  ],
});
