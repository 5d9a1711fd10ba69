/** The schema patterns models and single-type schema dialects (Gemini) get wrong. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What is wrong with one schema node, as `path: problem` lines; empty when nothing is. */
export function schemaProblems(node: Json, path: string): string[] {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return [];
  const problems: string[] = [];
  const keys = Object.keys(node).filter((key) => key !== 'description' && key !== 'title');
  if (keys.length === 0) problems.push(`${path}: bare {} schema (say what the value is)`);
  if (Array.isArray(node.type)) problems.push(`${path}: type array ${JSON.stringify(node.type)}`);
  for (const bound of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) {
    const value = node[bound];
    if (typeof value === 'number' && Math.abs(value) >= Number.MAX_SAFE_INTEGER)
      problems.push(`${path}: ${bound} ${value} is no real bound`);
  }
  if ('exclusiveMinimum' in node || 'exclusiveMaximum' in node)
    problems.push(`${path}: exclusive bound (give the inclusive one)`);
  if (node.type === 'integer' || node.type === 'number') {
    if (path.includes('.input.') && !('minimum' in node))
      problems.push(`${path}: an input number without a minimum`);
  }
  if (node.additionalProperties !== undefined && node.additionalProperties !== false) {
    const extra = node.additionalProperties;
    if (
      extra !== true &&
      (typeof extra !== 'object' ||
        extra === null ||
        Array.isArray(extra) ||
        Object.keys(extra).length === 0)
    )
      problems.push(`${path}.additionalProperties: bare {} schema (use true or a schema)`);
  }
  for (const [key, value] of Object.entries(node)) {
    if (
      key === 'additionalProperties' &&
      (value === true ||
        (typeof value === 'object' && value !== null && Object.keys(value).length === 0))
    )
      continue;
    if (key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [name, child] of Object.entries(value))
        problems.push(...schemaProblems(child, `${path}.${name}`));
    } else if (Array.isArray(value)) {
      for (const [index, child] of value.entries())
        problems.push(...schemaProblems(child, `${path}.${key}[${index}]`));
    } else if (typeof value === 'object' && value !== null) {
      problems.push(...schemaProblems(value, `${path}.${key}`));
    }
  }
  return problems;
}
