// The operations of an OpenAPI document as the API page lists them: one
// record per method and path, with its parameters, body and answers taken
// out of the document (references resolved), grouped by tag, each with an
// anchor for a link. Pure functions of the document; nothing here renders.

import type {
  JsonSchema,
  MediaTypeObject,
  OpenApiDoc,
  OperationObject,
  ParameterObject,
  RequestBodyObject,
  ResponseObject,
} from '../api/openapi';

/** In the order the page lists a path's operations. */
export const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'] as const;
export type Method = (typeof METHODS)[number];

export interface Param {
  name: string;
  in: string;
  required: boolean;
  deprecated: boolean;
  description?: string;
  schema?: JsonSchema;
}

export interface Media {
  type: string;
  schema?: JsonSchema;
}

export interface Body {
  description?: string;
  required: boolean;
  content: Media[];
}

export interface Answer {
  status: string;
  description?: string;
  content: Media[];
}

export interface Operation {
  /** The element id and `#fragment` of the operation (see `assignAnchors`). */
  anchor: string;
  method: Method;
  path: string;
  operationId?: string;
  tag: string;
  summary?: string;
  description?: string;
  deprecated: boolean;
  /** The least role it needs (`x-weft-role`), or null on a public route. */
  role: string | null;
  params: Param[];
  body: Body | null;
  answers: Answer[];
}

export interface TagGroup {
  name: string;
  description?: string;
  operations: Operation[];
}

const UNTAGGED = 'other';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/**
 * What a local reference (`#/components/schemas/Name`) points at, or
 * undefined. Only references inside the document are followed.
 */
export function pointer(doc: OpenApiDoc, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(at) || !Object.hasOwn(at, key)) return undefined;
    at = at[key];
  }
  return at;
}

/** An object that may be a `$ref` to a component, followed a few times. */
function deref<T>(doc: OpenApiDoc, v: T | undefined): T | undefined {
  let at: unknown = v;
  for (let hops = 0; hops < 8 && isObject(at) && typeof at.$ref === 'string'; hops++) at = pointer(doc, at.$ref);
  return isObject(at) ? (at as T) : undefined;
}

function media(doc: OpenApiDoc, content: unknown): Media[] {
  if (!isObject(content)) return [];
  return Object.entries(content).map(([type, m]) => ({
    type,
    schema: deref<MediaTypeObject>(doc, m as MediaTypeObject)?.schema,
  }));
}

function param(doc: OpenApiDoc, raw: ParameterObject): Param | null {
  const p = deref(doc, raw);
  if (!p || typeof p.name !== 'string') return null;
  const where = typeof p.in === 'string' ? p.in : 'query';
  return {
    name: p.name,
    in: where,
    // Path parameters are always required (OpenAPI says so).
    required: p.required === true || where === 'path',
    deprecated: p.deprecated === true,
    description: text(p.description),
    schema: p.schema,
  };
}

/** The path's shared parameters, overridden by the operation's own (same name and place). */
function params(doc: OpenApiDoc, shared: unknown, own: unknown): Param[] {
  const list = (v: unknown) => (Array.isArray(v) ? v : []).map((p) => param(doc, p)).filter((p): p is Param => !!p);
  const mine = list(own);
  const key = (p: Param) => `${p.in}\u0000${p.name}`;
  const overridden = new Set(mine.map(key));
  return [...list(shared).filter((p) => !overridden.has(key(p))), ...mine];
}

function body(doc: OpenApiDoc, raw: RequestBodyObject | undefined): Body | null {
  const b = deref(doc, raw);
  if (!b) return null;
  return { description: text(b.description), required: b.required === true, content: media(doc, b.content) };
}

function answers(doc: OpenApiDoc, raw: unknown): Answer[] {
  if (!isObject(raw)) return [];
  return Object.entries(raw)
    .map(([status, r]) => {
      const a = deref<ResponseObject>(doc, r as ResponseObject);
      return { status, description: text(a?.description), content: media(doc, a?.content) };
    })
    .sort((a, b) => statusOrder(a.status) - statusOrder(b.status) || a.status.localeCompare(b.status));
}

/** `200` before `4XX` before `default`. */
function statusOrder(status: string): number {
  if (status === 'default') return 1000;
  const n = Number(status.replace(/X/gi, '0'));
  return Number.isFinite(n) ? n : 999;
}

/**
 * Every operation of the document, path by path in the document's order,
 * each path's methods in `METHODS` order. A malformed entry is skipped.
 */
export function operationsOf(doc: OpenApiDoc): Operation[] {
  const out: Operation[] = [];
  const paths = isObject(doc.paths) ? doc.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const o = op as OperationObject;
      const tag = Array.isArray(o.tags) && typeof o.tags[0] === 'string' ? o.tags[0] : UNTAGGED;
      out.push({
        anchor: '',
        method,
        path,
        operationId: text(o.operationId),
        tag,
        summary: text(o.summary),
        description: text(o.description),
        deprecated: o.deprecated === true,
        role: text(o['x-weft-role']) ?? null,
        params: params(doc, item.parameters, o.parameters),
        body: body(doc, o.requestBody),
        answers: answers(doc, o.responses),
      });
    }
  }
  return assignAnchors(out);
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_.]+/g, '-').replace(/^-+|-+$/g, '');
}

/**
 * Anchors: the `operationId` itself where the document has it once
 * (`#trigger`). utoipa names operations after their handler functions, so
 * ids like `list` repeat across tags; those get the tag in front
 * (`#workflows-list`), and the method after when that still repeats
 * (`#hooks-receive-post`). An operation without an id is named by its
 * method and path.
 */
export function assignAnchors(ops: Operation[]): Operation[] {
  const count = (keys: string[]) => keys.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>());
  const first = ops.map((o) => o.operationId ?? `${o.method}-${slug(o.path)}`);
  const firstCount = count(first);
  const second = ops.map((o, i) => ((firstCount.get(first[i]) ?? 0) > 1 ? `${slug(o.tag)}-${first[i]}` : first[i]));
  const secondCount = count(second);
  const taken = new Set<string>();
  return ops.map((o, i) => {
    let anchor = (secondCount.get(second[i]) ?? 0) > 1 ? `${second[i]}-${o.method}` : second[i];
    // Last resort for a document that repeats even that.
    for (let n = 2; taken.has(anchor); n++) anchor = `${second[i]}-${o.method}-${n}`;
    taken.add(anchor);
    return { ...o, anchor };
  });
}

/** Groups by first tag: the document's `tags` order first, then the rest by name. */
export function groupByTag(doc: OpenApiDoc, ops: Operation[]): TagGroup[] {
  const declared = (Array.isArray(doc.tags) ? doc.tags : []).filter((t) => typeof t?.name === 'string');
  const described = new Map(declared.map((t) => [t.name as string, text(t.description)]));
  const order = declared.map((t) => t.name as string);
  const groups = new Map<string, Operation[]>();
  for (const o of ops) groups.set(o.tag, [...(groups.get(o.tag) ?? []), o]);
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([name, operations]) => ({ name, description: described.get(name), operations }));
}

/**
 * Whether the operation matches a filter: every word of it appears in the
 * method and path, the summary, the operation id or the tag (any case).
 */
export function matches(op: Operation, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hay = [op.method, op.path, op.summary ?? '', op.operationId ?? '', op.tag].join(' ').toLowerCase();
  return words.every((w) => hay.includes(w));
}

/** The groups with only the matching operations, empty groups left out. */
export function filterGroups(groups: TagGroup[], filter: string): TagGroup[] {
  return groups
    .map((g) => ({ ...g, operations: g.operations.filter((o) => matches(o, filter)) }))
    .filter((g) => g.operations.length > 0);
}
