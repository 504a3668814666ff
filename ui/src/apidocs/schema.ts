// What one node of a schema tree shows: a JSON Schema (2020-12, as utoipa
// writes it) read into a type line, facts, enum values and the children to
// list (fields, variants). `$ref`s are followed; the references already on
// the path from the root are carried along, so a schema that contains itself
// (a step's branches hold steps) shows as "recursive" instead of looping.
// Pure functions of the document and a schema; nothing here renders.

import type { JsonSchema, OpenApiDoc, SchemaObject } from '../api/openapi';
import { pointer } from './operations';

/** Levels of a schema tree shown below the root before the page stops. */
export const MAX_DEPTH = 12;

export interface Field {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

export interface Variant {
  label: string;
  schema: JsonSchema;
}

export interface Shape {
  /** "object", "string | null", "array of StepDef", "any". */
  type: string;
  /** The component the schema was reached through, e.g. `StartedRun`. */
  refName?: string;
  description?: string;
  /** Allowed values (`enum`, or `const` as one value). */
  values?: unknown[];
  /** Short notes: `int64`, `≥ 0`, `default 50`, `no other fields`. */
  facts: string[];
  fields: Field[];
  /** The schema of keys not listed (`additionalProperties`), if any. */
  otherKeys?: JsonSchema;
  variants?: { kind: 'one of' | 'any of'; options: Variant[] };
  /** Set when the schema is one already open above: not expanded again. */
  recursive?: boolean;
  /** The references on the path to this node's children. */
  seen: readonly string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asSchema(v: unknown): JsonSchema | undefined {
  return typeof v === 'boolean' || isObject(v) ? (v as JsonSchema) : undefined;
}

/** `#/components/schemas/StepDef` reads `StepDef`. */
export function refName(ref: string): string {
  const last = ref.split('/').pop() ?? ref;
  return decodeURIComponent(last).replace(/~1/g, '/').replace(/~0/g, '~');
}

function isNullOnly(s: JsonSchema): boolean {
  return isObject(s) && (s.type === 'null' || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === 'null'));
}

interface Resolved {
  schema: SchemaObject;
  refName?: string;
  seen: readonly string[];
  recursive?: boolean;
  missing?: string;
}

/**
 * Follows `$ref`s. Keywords beside a `$ref` (3.1 allows them; utoipa puts a
 * description there) win over the target's.
 */
function resolve(doc: OpenApiDoc, input: SchemaObject, seen: readonly string[]): Resolved {
  let schema = input;
  let name: string | undefined;
  let path = seen;
  for (let hops = 0; typeof schema.$ref === 'string' && hops < 16; hops++) {
    const ref = schema.$ref;
    const here = refName(ref);
    name ??= here;
    if (path.includes(ref)) return { schema: {}, refName: name, seen: path, recursive: true };
    const target = asSchema(pointer(doc, ref));
    if (target === undefined) return { schema: {}, refName: name, seen: path, missing: ref };
    const { $ref: _ref, ...beside } = schema;
    void _ref;
    schema = { ...(typeof target === 'boolean' ? {} : target), ...beside };
    path = [...path, ref];
  }
  return { schema, refName: name, seen: path };
}

/** `allOf` parts merged into one object schema (fields and required lists joined). */
function mergeAllOf(doc: OpenApiDoc, schema: SchemaObject, seen: readonly string[]): { schema: SchemaObject; seen: readonly string[] } {
  const { allOf, ...rest } = schema;
  let merged: SchemaObject = {};
  let path = seen;
  for (const part of allOf ?? []) {
    if (typeof part === 'boolean') continue;
    const r = resolve(doc, part, path);
    if (r.recursive) continue;
    path = r.seen;
    const inner = r.schema.allOf ? mergeAllOf(doc, r.schema, path) : { schema: r.schema, seen: path };
    path = inner.seen;
    const s = inner.schema;
    merged = {
      ...merged,
      ...s,
      description: merged.description ?? s.description,
      properties: { ...merged.properties, ...s.properties },
      required: [...(merged.required ?? []), ...(s.required ?? [])],
    };
  }
  return {
    schema: {
      ...merged,
      ...rest,
      properties: { ...merged.properties, ...rest.properties },
      required: [...new Set([...(merged.required ?? []), ...(rest.required ?? [])])],
    },
    seen: path,
  };
}

function typesOf(s: SchemaObject): string[] {
  if (Array.isArray(s.type)) return s.type.filter((t): t is string => typeof t === 'string');
  if (typeof s.type === 'string') return [s.type];
  if (s.properties || s.additionalProperties !== undefined) return ['object'];
  if (s.items !== undefined || s.prefixItems) return ['array'];
  const values = s.enum ?? (s.const !== undefined ? [s.const] : undefined);
  if (values?.length) {
    const kinds = new Set(values.map((v) => (v === null ? 'null' : typeof v)));
    return [...kinds];
  }
  return [];
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function factsOf(s: SchemaObject): string[] {
  const f: string[] = [];
  const num = (v: unknown) => typeof v === 'number';
  if (typeof s.format === 'string') f.push(s.format);
  if (num(s.minimum)) f.push(`≥ ${s.minimum}`);
  if (num(s.exclusiveMinimum)) f.push(`> ${s.exclusiveMinimum}`);
  if (num(s.maximum)) f.push(`≤ ${s.maximum}`);
  if (num(s.exclusiveMaximum)) f.push(`< ${s.exclusiveMaximum}`);
  if (num(s.minLength)) f.push(`length ≥ ${s.minLength}`);
  if (num(s.maxLength)) f.push(`length ≤ ${s.maxLength}`);
  if (num(s.minItems)) f.push(`items ≥ ${s.minItems}`);
  if (num(s.maxItems)) f.push(`items ≤ ${s.maxItems}`);
  if (typeof s.pattern === 'string') f.push(`pattern ${s.pattern}`);
  if (s.default !== undefined) f.push(`default ${show(s.default)}`);
  if (s.readOnly === true) f.push('read-only');
  if (s.writeOnly === true) f.push('write-only');
  if (s.deprecated === true) f.push('deprecated');
  if (s.additionalProperties === false) f.push('no other fields');
  return f;
}

/** A name for one `oneOf`/`anyOf` option: its component, title, or tag value (`type = cron`). */
function variantLabel(doc: OpenApiDoc, option: JsonSchema, index: number, seen: readonly string[]): string {
  if (typeof option === 'boolean') return option ? 'anything' : 'nothing';
  if (typeof option.$ref === 'string') return refName(option.$ref);
  if (typeof option.title === 'string') return option.title;
  for (const [key, prop] of Object.entries(option.properties ?? {})) {
    if (typeof prop === 'boolean') continue;
    const values = prop.enum ?? (prop.const !== undefined ? [prop.const] : undefined);
    if (values?.length === 1) return `${key} = ${show(values[0])}`;
  }
  const type = shapeOf(doc, option, seen).type;
  return type === 'any' ? `option ${index + 1}` : type;
}

/**
 * The shape of a schema met with `seen` references open above it. A
 * `oneOf`/`anyOf` of one schema and `null` (utoipa's `Option<T>`) reads as
 * that schema, `| null`; an array reads as its items (`array of X`) with
 * the items' fields as its children.
 */
export function shapeOf(doc: OpenApiDoc, input: JsonSchema | undefined, seen: readonly string[] = []): Shape {
  if (input === undefined || input === true) return { type: 'any', facts: [], fields: [], seen };
  if (input === false) return { type: 'nothing', facts: [], fields: [], seen };
  const r = resolve(doc, input, seen);
  if (r.recursive) return { type: 'object', refName: r.refName, recursive: true, facts: [], fields: [], seen: r.seen };
  if (r.missing) return { type: `unknown (${r.missing} is not in the document)`, facts: [], fields: [], seen: r.seen };
  let schema = r.schema;
  let path = r.seen;
  if (schema.allOf) ({ schema, seen: path } = mergeAllOf(doc, schema, path));

  const choice = schema.oneOf ? 'oneOf' : schema.anyOf ? 'anyOf' : null;
  const options = (choice ? schema[choice] : undefined) ?? [];
  const nonNull = options.filter((o) => !isNullOnly(o));
  if (choice && nonNull.length === 1 && options.length > 1) {
    // Option<T>: the one schema, nullable. Keywords of the outer schema win.
    const { [choice]: _drop, ...outer } = schema;
    void _drop;
    const one = nonNull[0];
    const inner = shapeOf(doc, typeof one === 'boolean' ? one : { ...one, ...stripUndefined(outer) }, path);
    return { ...inner, type: inner.type.endsWith('| null') ? inner.type : `${inner.type} | null` };
  }

  const types = typesOf(schema);
  const nullable = types.includes('null');
  const base = types.filter((t) => t !== 'null');
  const values = schema.enum ?? (schema.const !== undefined ? [schema.const] : undefined);
  const common = { refName: r.refName, description: typeof schema.description === 'string' ? schema.description : undefined, values };

  if (base.length === 1 && base[0] === 'array' && schema.items !== undefined) {
    const items = shapeOf(doc, schema.items, path);
    const itemType = items.refName ?? items.type;
    const type = `array of ${/\s/.test(itemType) && !itemType.startsWith('array of') ? `(${itemType})` : itemType}${nullable ? ' | null' : ''}`;
    return {
      ...items,
      ...common,
      type,
      description: common.description ?? items.description,
      values: values ?? items.values,
      facts: [...factsOf(schema), ...items.facts],
      // The items' own component name stays in the type line only.
      refName: r.refName,
    };
  }

  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const fields = Object.entries(isObject(schema.properties) ? schema.properties : {}).map(([name, s]) => ({
    name,
    required: required.has(name),
    schema: s,
  }));
  const other = schema.additionalProperties;
  const shape: Shape = {
    ...common,
    type: (base.length ? base.join(' | ') : 'any') + (nullable ? ' | null' : ''),
    facts: factsOf(schema),
    fields,
    otherKeys: other !== undefined && other !== false ? other : undefined,
    seen: path,
  };
  if (choice && options.length) {
    shape.variants = {
      kind: choice === 'oneOf' ? 'one of' : 'any of',
      options: options.map((o, i) => ({ label: variantLabel(doc, o, i, path), schema: o })),
    };
    if (shape.type === 'any') shape.type = choice === 'oneOf' ? 'one of' : 'any of';
  }
  return shape;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Whether a node of this shape has children to open. */
export function hasChildren(shape: Shape): boolean {
  return !shape.recursive && (shape.fields.length > 0 || shape.otherKeys !== undefined || !!shape.variants?.options.length);
}
