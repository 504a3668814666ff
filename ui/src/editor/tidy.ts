// One-click tidy layout of the top-level steps with dagre.

import dagre from '@dagrejs/dagre';
import type { Definition, Position, StepTypeView } from '../api/types';
import { END_NODE, STEP_H, STEP_W, TRIGGER_NODE, makeGraphBuilder } from './graph';

export function tidy(def: Definition, types: StepTypeView[]): Definition {
  const graph = makeGraphBuilder()({
    def,
    types,
    selected: null,
    errorsByStep: new Map(),
    readOnly: true,
    measured: new Map(),
  });
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 48, ranksep: 64, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  const parentOf = new Map<string, string>();
  for (const n of graph.nodes) if (n.parentId) parentOf.set(n.id, n.parentId);
  const top = (id: string): string => {
    let cur = id;
    while (parentOf.has(cur)) cur = parentOf.get(cur)!;
    return cur;
  };
  for (const n of graph.nodes) {
    if (n.parentId) continue;
    const terminal = n.id === TRIGGER_NODE || n.id === END_NODE;
    g.setNode(n.id, {
      width: n.width ?? (terminal ? 180 : STEP_W),
      height: n.height ?? (terminal ? 48 : STEP_H),
    });
  }
  for (const e of graph.edges) {
    const s = top(e.source);
    const t = top(e.target);
    if (s !== t) g.setEdge(s, t);
  }
  dagre.layout(g);
  const nodes: Record<string, Position> = { ...(def.layout?.nodes ?? {}) };
  for (const id of g.nodes()) {
    const n = g.node(id);
    nodes[id] = { x: Math.round(n.x - n.width / 2), y: Math.round(n.y - n.height / 2) };
  }
  return { ...def, layout: { ...(def.layout ?? {}), nodes } };
}
