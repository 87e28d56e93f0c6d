import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './repo-paths.js';

/**
 * A validator for the subset of JSON Schema (2020-12) that docs/benchmark-result.schema.json uses: type
 * (one or a list; integer is a whole number), const, enum, properties, required, additionalProperties
 * (false or a schema), items, minItems, minimum, maximum, exclusiveMinimum, oneOf and local $ref. A keyword
 * outside the subset throws, so the schema cannot grow a rule this validator would silently skip.
 */

type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', '$id', '$defs', 'title', 'description']);
const KEYWORDS = new Set(['type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'minimum', 'maximum', 'exclusiveMinimum', 'oneOf', '$ref']);

export const benchmarkResultSchemaPath = path.join(repoRoot, 'docs', 'benchmark-result.schema.json');

export function loadBenchmarkSchema(): Schema {
  return JSON.parse(readFileSync(benchmarkResultSchemaPath, 'utf8')) as Schema;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return typeof value === 'number' && Number.isInteger(value);
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value);
  return typeOf(value) === type;
}

/** Every violation, as "path: problem"; empty when `value` conforms. */
export function validateAgainstSchema(value: unknown, root: Schema): string[] {
  const errors: string[] = [];
  const resolve = (reference: string): Schema => {
    const match = /^#\/\$defs\/([\w-]+)$/.exec(reference);
    const target = match ? (root.$defs as Record<string, Schema> | undefined)?.[match[1]!] : undefined;
    if (!target) throw new Error(`schema: cannot resolve $ref ${reference}`);
    return target;
  };
  const check = (node: unknown, schema: Schema, where: string): void => {
    for (const keyword of Object.keys(schema)) {
      if (!ANNOTATIONS.has(keyword) && !KEYWORDS.has(keyword)) throw new Error(`schema keyword '${keyword}' at ${where} is outside the supported subset`);
    }
    if (schema.$ref) return check(node, resolve(schema.$ref as string), where);
    if (schema.oneOf) {
      const matching = (schema.oneOf as Schema[]).filter((option) => validateFrom(node, option, where).length === 0).length;
      if (matching !== 1) errors.push(`${where}: matches ${matching} of the oneOf alternatives, not exactly one`);
      return;
    }
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
      if (!types.some((type) => hasType(node, type))) {
        errors.push(`${where}: expected ${types.join(' or ')}, got ${typeOf(node)}`);
        return;
      }
    }
    if ('const' in schema && node !== schema.const) errors.push(`${where}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(node)}`);
    if (schema.enum && !(schema.enum as unknown[]).includes(node)) errors.push(`${where}: ${JSON.stringify(node)} is not one of ${JSON.stringify(schema.enum)}`);
    if (typeof node === 'number') {
      if (typeof schema.minimum === 'number' && node < schema.minimum) errors.push(`${where}: ${node} < minimum ${schema.minimum}`);
      if (typeof schema.maximum === 'number' && node > schema.maximum) errors.push(`${where}: ${node} > maximum ${schema.maximum}`);
      if (typeof schema.exclusiveMinimum === 'number' && node <= schema.exclusiveMinimum) errors.push(`${where}: ${node} <= exclusive minimum ${schema.exclusiveMinimum}`);
    }
    if (Array.isArray(node)) {
      if (typeof schema.minItems === 'number' && node.length < schema.minItems) errors.push(`${where}: ${node.length} items, at least ${schema.minItems} required`);
      if (schema.items) node.forEach((item, index) => check(item, schema.items as Schema, `${where}[${index}]`));
    }
    if (typeOf(node) === 'object') {
      const object = node as Record<string, unknown>;
      for (const name of (schema.required as string[] | undefined) ?? []) if (!(name in object)) errors.push(`${where}: missing required '${name}'`);
      const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
      for (const [name, child] of Object.entries(object)) {
        if (properties[name]) check(child, properties[name]!, `${where}.${name}`);
        else if (schema.additionalProperties === false) errors.push(`${where}: unexpected property '${name}'`);
        else if (typeof schema.additionalProperties === 'object') check(child, schema.additionalProperties as Schema, `${where}.${name}`);
      }
    }
  };
  const validateFrom = (node: unknown, schema: Schema, where: string) => {
    const before = errors.length;
    check(node, schema, where);
    return errors.splice(before);
  };
  check(value, root, '$');
  return errors;
}
