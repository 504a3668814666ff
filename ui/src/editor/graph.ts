// Nodes and edges of the canvas, derived from a definition (never the other
// way round). Node objects are cached by step identity so that a change to one
// step re-renders one node, which keeps 200-step workflows smooth.

import type { Edge, Node } from '@xyflow/react';
import type { Definition, Position, Step, StepTypeView } from '../api/types';
import { END, childLists, isGroupType, stepTypeOf } from './model';

export const TRIGGER_NODE = '__trigger';
export const END_NODE = '__end';

export const STEP_W = 200;
export const STEP_H = 64;
const GROUP_PAD = 16;
const GROUP_HEAD = 48;
const GROUP_FOOT = 24;
const GAP_Y = 36;
const GAP_X = 16;

export type StepState = 'not-reached' | 'running' | 'completed' | 'failed' | 'retrying' | 'waiting' | 'caught';

export interface StepNodeData extends Record<string, unknown> {
  step: Step;
  info?: StepTypeView;
  targets: string[];
  errors: number;
  state?: StepState;
  readOnly: boolean;
}

export interface GroupNodeData extends StepNodeData {
  columns: { x: number; width: number }[];
  height: number;
}

export interface TerminalNodeData extends Record<string, unknown> {
  label: string;
  detail?: string;
  readOnly: boolean;
}

export type EdgeKind = 'next' | 'implicit' | 'error' | 'target';

export interface LinkData extends Record<string, unknown> {
  kind: EdgeKind;
  handle: string;
}

export interface DropZone {
  parent: string;
  branch: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Graph {
  nodes: Node[];
  edges: Edge<LinkData>[];
  zones: DropZone[];
}

export interface GraphInput {
  def: Definition;
  types: StepTypeView[];
  selected: string | null;
  errorsByStep: Map<string, number>;
  states?: Map<string, StepState>;
  readOnly: boolean;
  measured: Map<string, { width: number; height: number }>;
}

interface Size {
  width: number;
  height: number;
}

/** Size of a step's node; a parallel or for-each step is as big as what it holds. */
function measure(step: Step, sizes: Map<string, Size>): Size {
  if (!isGroupType(step.type)) {
    const s = { width: STEP_W, height: STEP_H };
    sizes.set(step.id, s);
    return s;
  }
  const held = childLists(step);
  const branches = held.length ? held : [[]];
  let width = GROUP_PAD;
  let height = 0;
  for (const branch of branches) {
    let w = STEP_W;
    let h = 0;
    for (const child of branch) {
      const cs = measure(child, sizes);
      w = Math.max(w, cs.width);
      h += cs.height + GAP_Y;
    }
    width += w + GAP_X;
    height = Math.max(height, h);
  }
  const s = { width: width - GAP_X + GROUP_PAD, height: GROUP_HEAD + Math.max(height, STEP_H) + GROUP_FOOT };
  sizes.set(step.id, s);
  return s;
}

export function makeGraphBuilder(): (input: GraphInput) => Graph {
  const cache = new Map<string, { key: unknown[]; node: Node }>();
  const edgeCache = new Map<string, { key: string; edge: Edge<LinkData> }>();

  const cached = (id: string, key: unknown[], build: () => Node): Node => {
    const hit = cache.get(id);
    if (hit && hit.key.length === key.length && hit.key.every((k, i) => k === key[i])) return hit.node;
    const node = build();
    cache.set(id, { key, node });
    return node;
  };

  return (input) => {
    const { def, types, selected, errorsByStep, states, readOnly, measured } = input;
    const nodes: Node[] = [];
    const edges: Edge<LinkData>[] = [];
    const zones: DropZone[] = [];
    const positions = def.layout?.nodes ?? {};
    const sizes = new Map<string, Size>();
    for (const s of def.steps) measure(s, sizes);
    const known = new Set<string>();
    const visit = (list: Step[]) => {
      for (const s of list) {
        known.add(s.id);
        for (const b of childLists(s)) visit(b);
      }
    };
    visit(def.steps);

    const terminal = (id: string, label: string, detail: string | undefined, fallback: Position) => {
      const p = positions[id] ?? fallback;
      const m = measured.get(id);
      nodes.push(
        cached(id, [p, detail, readOnly, m, selected === id], () => ({
          id,
          type: 'terminal',
          position: p,
          data: { label, detail, readOnly } satisfies TerminalNodeData,
          deletable: false,
          connectable: id === END_NODE,
          selected: selected === id,
          measured: m,
        })),
      );
    };

    const t = def.trigger;
    const triggerDetail =
      t.type === 'event'
        ? String((t.config as { event?: string } | null)?.event ?? '')
        : t.type === 'cron'
          ? String((t.config as { expression?: string } | null)?.expression ?? '')
          : t.type === 'webhook'
            ? `request verified by ${String((t.config as { verify?: { type?: string } } | null)?.verify?.type ?? '?')}`
            : 'run by hand or by API';
    terminal(TRIGGER_NODE, `Trigger: ${t.type}`, triggerDetail, { x: 0, y: 0 });

    const addNode = (s: Step, position: Position, parentId: string | undefined, absolute: Position) => {
      const info = stepTypeOf(s.type, types);
      const targets = info?.targets ?? [];
      const errors = errorsByStep.get(s.id) ?? 0;
      const state = states?.get(s.id);
      const isGroup = isGroupType(s.type);
      const size = sizes.get(s.id)!;
      const m = isGroup ? size : measured.get(s.id);
      const isSelected = selected === s.id;
      nodes.push(
        cached(s.id, [s, info, position.x, position.y, parentId, errors, state, readOnly, m, isSelected], () => {
          const data: StepNodeData = { step: s, info, targets, errors, state, readOnly };
          const node: Node = {
            id: s.id,
            type: isGroup ? 'parallel' : 'step',
            position,
            data,
            selected: isSelected,
            measured: m,
            ariaLabel: `Step ${s.id} (${s.type})`,
          };
          if (parentId) {
            node.parentId = parentId;
            node.extent = 'parent';
            node.draggable = false;
          }
          if (isGroup) {
            const columns: { x: number; width: number }[] = [];
            let x = GROUP_PAD;
            const held = childLists(s);
            for (const b of held.length ? held : [[]]) {
              const w = Math.max(STEP_W, ...b.map((c) => sizes.get(c.id)!.width));
              columns.push({ x, width: w });
              x += w + GAP_X;
            }
            (data as GroupNodeData).columns = columns;
            (data as GroupNodeData).height = size.height;
            node.width = size.width;
            node.height = size.height;
            node.style = { width: size.width, height: size.height };
          }
          return node;
        }),
      );
      if (isGroup) {
        let x = GROUP_PAD;
        childLists(s).forEach((branch, bi) => {
          const w = Math.max(STEP_W, ...branch.map((c) => sizes.get(c.id)!.width));
          let y = GROUP_HEAD;
          zones.push({ parent: s.id, branch: bi, x: absolute.x + x, y: absolute.y, width: w, height: size.height });
          for (const c of branch) {
            addNode(c, { x, y }, s.id, { x: absolute.x + x, y: absolute.y + y });
            y += sizes.get(c.id)!.height + GAP_Y;
          }
          x += w + GAP_X;
        });
      }
    };

    // Steps without a position go below the lowest one placed so far; the
    // End node goes below everything.
    let bottom = 60;
    let lowest = 60;
    for (const s of def.steps) {
      const placed = positions[s.id];
      const p = placed ?? { x: 0, y: lowest + 60 };
      const b = p.y + sizes.get(s.id)!.height;
      bottom = Math.max(bottom, b);
      lowest = placed ? Math.max(lowest, b) : b;
      addNode(s, p, undefined, p);
    }
    terminal(END_NODE, 'End', undefined, { x: 0, y: bottom + 60 });

    const edge = (source: string, handle: string, target: string, kind: EdgeKind, label?: string) => {
      const id = `${source}|${handle}|${target}`;
      const key = `${kind}|${label ?? ''}|${readOnly}`;
      const hit = edgeCache.get(id);
      if (hit && hit.key === key) {
        edges.push(hit.edge);
        return;
      }
      const e: Edge<LinkData> = {
        id,
        source,
        sourceHandle: handle,
        target,
        targetHandle: 'in',
        type: 'default',
        className: `edge-${kind}`,
        label,
        deletable: !readOnly && kind !== 'implicit',
        selectable: !readOnly && kind !== 'implicit',
        data: { kind, handle },
      };
      edgeCache.set(id, { key, edge: e });
      edges.push(e);
    };

    const links = (list: Step[], topLevel: boolean) => {
      list.forEach((s, i) => {
        const info = stepTypeOf(s.type, types);
        const targets = info?.targets ?? [];
        const resolve = (to: string): string | null =>
          to === END ? (topLevel ? END_NODE : null) : known.has(to) ? to : null;
        const following = i + 1 < list.length ? list[i + 1].id : topLevel ? END_NODE : null;
        // A condition's targets replace `next`; an engine step's (a rejection,
        // a timeout) are side exits: it goes on to the next step otherwise.
        let allTargets = info?.kind !== 'engine' && targets.length > 0;
        for (const prop of targets) {
          const to = s.config?.[prop];
          const r = typeof to === 'string' ? resolve(to) : null;
          if (r) edge(s.id, `t:${prop}`, r, 'target');
          else if (typeof to !== 'string') allTargets = false;
        }
        if (s.next) {
          const r = resolve(s.next);
          if (r) edge(s.id, 'next', r, 'next');
        } else if (!allTargets && following) {
          edge(s.id, 'next', following, 'implicit');
        }
        if (s.onError) {
          const r = resolve(s.onError);
          if (r) edge(s.id, 'error', r, 'error', 'on error');
        }
        for (const b of childLists(s)) links(b, false);
      });
    };
    if (def.steps.length > 0) edge(TRIGGER_NODE, 'next', def.steps[0].id, 'implicit');
    links(def.steps, true);

    return { nodes, edges, zones };
  };
}
