// An rjsf validator built on @cfworker/json-schema, which interprets schemas
// instead of compiling them with `new Function` (ajv), so it runs under the
// page's `default-src 'self'` Content-Security-Policy.
//
// Step configs are templated: a string holding `{{ ... }}` is rendered by the
// host at run time, so errors about such a string (its format, or its type
// when a number is expected) are not shown.

import { Validator, type OutputUnit, type Schema } from '@cfworker/json-schema';
import {
  createErrorHandler,
  toErrorSchema,
  unwrapErrorHandler,
  validationDataMerge,
  type CustomValidator,
  type ErrorTransformer,
  type RJSFSchema,
  type RJSFValidationError,
  type UiSchema,
  type ValidationData,
  type ValidatorType,
} from '@rjsf/utils';

const LEAF = new Set([
  'required', 'type', 'enum', 'const', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'multipleOf', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems', 'minProperties',
  'maxProperties', 'additionalProperties', 'false', 'not', 'anyOf', 'oneOf', 'contains', 'dependentRequired',
]);

const cache = new WeakMap<object, Validator>();

function draftOf(schema: Schema): '4' | '7' | '2019-09' | '2020-12' {
  const id = String(schema.$schema ?? '');
  if (id.includes('draft-04')) return '4';
  if (id.includes('draft-07') || id.includes('draft-06')) return '7';
  if (id.includes('2019-09')) return '2019-09';
  return '2020-12';
}

function validatorFor(schema: RJSFSchema, root?: RJSFSchema): Validator {
  const key = schema as object;
  const hit = root === undefined || root === schema ? cache.get(key) : undefined;
  if (hit) return hit;
  let s = schema as Schema;
  if (root && root !== schema) {
    // Sub-schemas may `$ref` definitions of the root.
    s = { ...s };
    if (root.$defs && !s.$defs) s.$defs = root.$defs as Schema['$defs'];
    if (root.definitions && !s.definitions) s.definitions = root.definitions as Schema['definitions'];
  }
  const v = new Validator(s, draftOf(s), false);
  if (root === undefined || root === schema) cache.set(key, v);
  return v;
}

const isTemplate = (v: unknown) => typeof v === 'string' && v.includes('{{');

function valueAt(data: unknown, pointer: string): unknown {
  const parts = pointer.replace(/^#/, '').split('/').slice(1);
  let v: unknown = data;
  for (const raw of parts) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[decodeURIComponent(key)];
  }
  return v;
}

function toProperty(pointer: string): string[] {
  return pointer
    .replace(/^#/, '')
    .split('/')
    .slice(1)
    .map((k) => decodeURIComponent(k.replace(/~1/g, '/').replace(/~0/g, '~')));
}

function friendly(unit: OutputUnit): string {
  const m = unit.error;
  if (unit.keyword === 'required') {
    const name = /"([^"]+)"/.exec(m)?.[1];
    return name ? `is required` : m;
  }
  if (unit.keyword === 'type') {
    const t = /type "([^"]+)"/.exec(m)?.[1];
    return t ? `must be ${t.replace(/,/g, ' or ')}` : m;
  }
  return m.replace(/^Instance\s*/, '').replace(/^does /, 'must ').replace(/\.$/, '');
}

export function toRjsfErrors(units: OutputUnit[], data: unknown): RJSFValidationError[] {
  const leaves = units.filter((u) => LEAF.has(u.keyword));
  const deepest = new Set(leaves.filter((u) => u.keyword !== 'anyOf' && u.keyword !== 'oneOf').map((u) => u.instanceLocation));
  const out: RJSFValidationError[] = [];
  const seen = new Set<string>();
  for (const u of leaves) {
    if ((u.keyword === 'anyOf' || u.keyword === 'oneOf') && deepest.has(u.instanceLocation)) continue;
    const value = valueAt(data, u.instanceLocation);
    if ((u.keyword === 'format' || u.keyword === 'type' || u.keyword === 'pattern' || u.keyword === 'anyOf' || u.keyword === 'oneOf') && isTemplate(value)) continue;
    let path = toProperty(u.instanceLocation);
    if (u.keyword === 'required') {
      const name = /"([^"]+)"/.exec(u.error)?.[1];
      if (name) path = [...path, name];
    }
    const property = path.length ? '.' + path.join('.') : '';
    const message = friendly(u);
    const id = `${property}|${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({
      name: u.keyword,
      property,
      message,
      schemaPath: u.keywordLocation,
      stack: `${path.join('.') || 'value'} ${message}`,
    });
  }
  return out;
}

class CfworkerValidator implements ValidatorType {
  validateFormData(
    formData: unknown,
    schema: RJSFSchema,
    customValidate?: CustomValidator,
    transformErrors?: ErrorTransformer,
    uiSchema?: UiSchema,
  ): ValidationData<unknown> {
    const result = validatorFor(schema).validate(formData === undefined ? {} : formData);
    let errors = result.valid ? [] : toRjsfErrors(result.errors, formData);
    if (transformErrors) errors = transformErrors(errors, uiSchema);
    let data: ValidationData<unknown> = { errors, errorSchema: toErrorSchema(errors) };
    if (customValidate) {
      const handler = customValidate(formData, createErrorHandler(formData), uiSchema);
      data = validationDataMerge(data, unwrapErrorHandler(handler));
    }
    return data;
  }

  isValid(schema: RJSFSchema, formData: unknown, rootSchema: RJSFSchema): boolean {
    try {
      return validatorFor(schema, rootSchema).validate(formData).valid;
    } catch {
      return false;
    }
  }

  rawValidation<Result = unknown>(schema: RJSFSchema, formData?: unknown): { errors?: Result[]; validationError?: Error } {
    try {
      const r = validatorFor(schema).validate(formData);
      return { errors: r.errors as Result[] };
    } catch (e) {
      return { validationError: e as Error };
    }
  }
}

export const validator = new CfworkerValidator();
