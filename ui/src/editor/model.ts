// Pure functions over a workflow definition: the editor's store applies them.

import type { Definition, Json, JsonObject, Position, Step, StepTypeView } from '../api/types';

export const END = 'end';

/** Whether a step holds steps: `parallel` (branches) or `for-each` (a body). */
export function isGroupType(type: string): boolean {
  const t = baseType(type);
  return t === 'parallel' || t === 'for-each';
}

/** The lists of steps a step holds: a parallel step's branches, or a
 * for-each step's body as its one list. */
export function childLists(s: Step): Step[][] {
  if (s.branches) return s.branches;
  if (s.steps) return [s.steps];
  return [];
}

/** `s` holding `lists` instead, in the field its type keeps them in. */
export function withChildLists(s: Step, lists: Step[][]): Step {
  if (baseType(s.type) === 'for-each') return { ...s, steps: lists[0] ?? [] };
  return { ...s, branches: lists };
}

/** Every step, branches included, in definition order. */
export function allSteps(steps: Step[]): Step[] {
  const out: Step[] = [];
  const walk = (list: Step[]) => {
    for (const s of list) {
      out.push(s);
      for (const b of childLists(s)) walk(b);
    }
  };
  walk(steps);
  return out;
}

export function findStep(def: Definition, id: string): Step | undefined {
  return allSteps(def.steps).find((s) => s.id === id);
}

/** Where a step lives: its list, index, and the parallel step holding it. */
export interface StepPlace {
  parent: string | null;
  branch: number | null;
  index: number;
}

export function placeOf(def: Definition, id: string): StepPlace | undefined {
  const walk = (list: Step[], parent: string | null, branch: number | null): StepPlace | undefined => {
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s.id === id) return { parent, branch, index: i };
      const found = childLists(s)
        .map((b, bi) => walk(b, s.id, bi))
        .find(Boolean);
      if (found) return found;
    }
    return undefined;
  };
  return walk(def.steps, null, null);
}

/** Maps every step (deep), keeping untouched objects as they are. */
function mapSteps(list: Step[], f: (s: Step) => Step | null): Step[] {
  let changed = false;
  const out: Step[] = [];
  for (const s of list) {
    let next = f(s);
    if (next && (next.branches || next.steps)) {
      const lists = childLists(next);
      const mapped = lists.map((b) => mapSteps(b, f));
      if (mapped.some((b, i) => b !== lists[i])) next = withChildLists(next, mapped);
    }
    if (next !== s) changed = true;
    if (next) out.push(next);
  }
  return changed ? out : list;
}

export function updateStep(def: Definition, id: string, f: (s: Step) => Step): Definition {
  return { ...def, steps: mapSteps(def.steps, (s) => (s.id === id ? f(s) : s)) };
}

/** Removes a step and every reference to it. */
export function removeSteps(def: Definition, ids: Set<string>, types: StepTypeView[]): Definition {
  const steps = mapSteps(def.steps, (s) => (ids.has(s.id) ? null : clearRefs(s, ids, types)));
  const nodes = { ...(def.layout?.nodes ?? {}) };
  for (const id of ids) delete nodes[id];
  return { ...def, steps, layout: { ...(def.layout ?? {}), nodes } };
}

function clearRefs(s: Step, ids: Set<string>, types: StepTypeView[]): Step {
  let out = s;
  if (s.next && ids.has(s.next)) {
    out = { ...out };
    delete out.next;
  }
  if (s.onError && ids.has(s.onError)) {
    out = { ...out };
    delete out.onError;
  }
  for (const t of targetsOf(s.type, types)) {
    const v = s.config?.[t];
    if (typeof v === 'string' && ids.has(v)) {
      const config = { ...(out.config ?? {}) };
      delete config[t];
      out = { ...out, config };
    }
  }
  return out;
}

/** Renames a step and every reference to it. */
export function renameStep(def: Definition, from: string, to: string, types: StepTypeView[]): Definition {
  const steps = mapSteps(def.steps, (s) => {
    let out = s;
    if (s.id === from) out = { ...out, id: to };
    if (s.next === from) out = { ...out, next: to };
    if (s.onError === from) out = { ...out, onError: to };
    for (const t of targetsOf(s.type, types)) {
      if (s.config?.[t] === from) out = { ...out, config: { ...(out.config ?? {}), [t]: to } };
    }
    return out;
  });
  const nodes = { ...(def.layout?.nodes ?? {}) };
  if (nodes[from]) {
    nodes[to] = nodes[from];
    delete nodes[from];
  }
  return { ...def, steps, layout: { ...(def.layout ?? {}), nodes } };
}

export function baseType(type: string): string {
  const at = type.indexOf('@');
  return at < 0 ? type : type.slice(0, at);
}

export function stepTypeOf(type: string, types: StepTypeView[]): StepTypeView | undefined {
  return types.find((t) => t.type === baseType(type));
}

export function targetsOf(type: string, types: StepTypeView[]): string[] {
  return stepTypeOf(type, types)?.targets ?? [];
}

export function freshId(def: Definition, type: string): string {
  const taken = new Set(allSteps(def.steps).map((s) => s.id));
  const base = baseType(type).replace(/[^a-zA-Z0-9_-]/g, '-') || 'step';
  for (let n = 1; ; n++) {
    const id = `${base}-${n}`;
    if (!taken.has(id)) return id;
  }
}

export function newStep(def: Definition, type: string): Step {
  const step: Step = { id: freshId(def, type), type };
  if (baseType(type) === 'parallel') step.branches = [[]];
  else if (baseType(type) === 'for-each') {
    step.config = { items: '{{ event.items }}' };
    step.steps = [];
  } else step.config = {};
  return step;
}

/** Adds a step at the top level (at a position) or to a branch of a parallel step. */
export function addStep(
  def: Definition,
  step: Step,
  where: { position?: Position; parent?: string; branch?: number } = {},
): Definition {
  if (where.parent) {
    return updateStep(def, where.parent, (p) => {
      const branches = childLists(p).map((b) => b.slice());
      const bi = Math.min(Math.max(where.branch ?? 0, 0), Math.max(branches.length - 1, 0));
      if (branches.length === 0) branches.push([]);
      branches[bi] = [...branches[bi], step];
      return withChildLists(p, branches);
    });
  }
  const nodes = { ...(def.layout?.nodes ?? {}) };
  nodes[step.id] = where.position ?? nextFreePosition(def);
  return { ...def, steps: [...def.steps, step], layout: { ...(def.layout ?? {}), nodes } };
}

function nextFreePosition(def: Definition): Position {
  const ps = Object.values(def.layout?.nodes ?? {});
  if (ps.length === 0) return { x: 0, y: 120 };
  const maxY = Math.max(...ps.map((p) => p.y));
  const last = ps.find((p) => p.y === maxY)!;
  return { x: last.x, y: maxY + 120 };
}

export function setPosition(def: Definition, id: string, p: Position): Definition {
  return { ...def, layout: { ...(def.layout ?? {}), nodes: { ...(def.layout?.nodes ?? {}), [id]: p } } };
}

export function addBranch(def: Definition, parent: string): Definition {
  return updateStep(def, parent, (p) => ({ ...p, branches: [...(p.branches ?? []), []] }));
}

/** Sets (or clears, with null) the link `handle` of step `source`. */
export function link(def: Definition, source: string, handle: string, target: string | null): Definition {
  return updateStep(def, source, (s) => {
    const out: Step = { ...s };
    if (handle === 'next') {
      if (target === null) delete out.next;
      else out.next = target;
    } else if (handle === 'error') {
      if (target === null) delete out.onError;
      else out.onError = target;
    } else if (handle.startsWith('t:')) {
      const config: JsonObject = { ...(s.config ?? {}) };
      const prop = handle.slice(2);
      if (target === null) delete config[prop];
      else config[prop] = target;
      out.config = config;
    }
    return out;
  });
}

/** A definition's canonical JSON text. */
export function toJson(def: Definition): string {
  return JSON.stringify(def, null, 2);
}

/** Checks that parsed text has the shape of a definition; returns a message when not. */
export function shapeError(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the definition must be an object';
  const v = value as Record<string, Json | undefined>;
  if (typeof v.name !== 'string') return '`name` must be a string';
  const t = v.trigger as Record<string, Json> | undefined;
  if (typeof t !== 'object' || t === null || Array.isArray(t) || typeof t.type !== 'string')
    return '`trigger` must be an object with a `type`';
  if (!Array.isArray(v.steps)) return '`steps` must be a list';
  const ids = new Set<string>();
  const check = (list: Json[], where: string): string | null => {
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as Record<string, Json> | null;
      if (typeof s !== 'object' || s === null || Array.isArray(s)) return `${where}[${i}] must be an object`;
      if (typeof s.id !== 'string' || !s.id) return `${where}[${i}].id must be a non-empty string`;
      if (typeof s.type !== 'string') return `${where}[${i}].type must be a string`;
      if (ids.has(s.id)) return `step id \`${s.id}\` appears twice`;
      ids.add(s.id);
      if (s.config !== undefined && (typeof s.config !== 'object' || s.config === null || Array.isArray(s.config)))
        return `${where}[${i}].config must be an object`;
      if (s.branches !== undefined) {
        if (!Array.isArray(s.branches)) return `${where}[${i}].branches must be a list of lists`;
        for (let b = 0; b < s.branches.length; b++) {
          const branch = s.branches[b];
          if (!Array.isArray(branch)) return `${where}[${i}].branches[${b}] must be a list`;
          const e = check(branch, `${where}[${i}].branches[${b}]`);
          if (e) return e;
        }
      }
      if (s.steps !== undefined) {
        if (!Array.isArray(s.steps)) return `${where}[${i}].steps must be a list`;
        const e = check(s.steps, `${where}[${i}].steps`);
        if (e) return e;
      }
    }
    return null;
  };
  return check(v.steps as Json[], 'steps');
}

export function emptyDefinition(): Definition {
  return { name: 'New workflow', trigger: { type: 'manual' }, steps: [], layout: { nodes: {} } };
}

/** What changed between two definitions, for the conflict dialog. */
export interface DefinitionDiff {
  name: boolean;
  description: boolean;
  trigger: boolean;
  added: string[];
  removed: string[];
  changed: string[];
  layout: boolean;
}

export function diffDefinitions(mine: Definition, theirs: Definition): DefinitionDiff {
  const index = (d: Definition) => new Map(allSteps(d.steps).map((s) => [s.id, stable({ ...s, branches: undefined, steps: undefined })]));
  const a = index(mine);
  const b = index(theirs);
  return {
    name: mine.name !== theirs.name,
    description: (mine.description ?? '') !== (theirs.description ?? ''),
    trigger: stable(mine.trigger) !== stable(theirs.trigger),
    added: [...b.keys()].filter((k) => !a.has(k)),
    removed: [...a.keys()].filter((k) => !b.has(k)),
    changed: [...a.keys()].filter((k) => b.has(k) && a.get(k) !== b.get(k)),
    layout: stable(mine.layout ?? null) !== stable(theirs.layout ?? null),
  };
}

/** JSON with sorted keys, for comparisons. */
export function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as object).filter(([, y]) => y !== undefined).sort(([p], [q]) => (p < q ? -1 : 1)))
      : x,
  );
}

/** The definition fields of a workflow view (server-owned fields dropped). */
export function definitionOf(v: Definition): Definition {
  const d: Definition = { name: v.name, trigger: v.trigger, steps: v.steps ?? [] };
  if (v.description) d.description = v.description;
  if (v.limits) d.limits = v.limits;
  // Kept as they are: the editor has no fields for them, and a save without
  // them would clear them.
  if (v.retention) d.retention = v.retention;
  if (v.timeout) d.timeout = v.timeout;
  if (v.concurrency) d.concurrency = v.concurrency;
  d.layout = v.layout ?? { nodes: {} };
  return d;
}
