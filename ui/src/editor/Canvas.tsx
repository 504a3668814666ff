// The editor's canvas: nodes and edges derived from the store's definition;
// every handler turns a canvas gesture into an edit of the definition.

import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from 'react';
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useEditor } from './store';
import { END_NODE, TRIGGER_NODE, makeGraphBuilder, type LinkData } from './graph';
import { nodeTypes } from './nodes';
import { END, addStep, isGroupType, link, newStep, removeSteps, setPosition } from './model';

export const DRAG_TYPE = 'application/x-weft-step-type';

export default function Canvas() {
  const def = useEditor((s) => s.def);
  const types = useEditor((s) => s.stepTypes);
  const selection = useEditor((s) => s.selection);
  const serverErrors = useEditor((s) => s.serverErrors);
  const fit = useEditor((s) => s.fit);
  const { screenToFlowPosition, fitView } = useReactFlow();
  useEffect(() => {
    if (fit) window.requestAnimationFrame(() => fitView({ maxZoom: 1.1, duration: 0 }));
  }, [fit, fitView]);
  const measured = useRef(new Map<string, { width: number; height: number }>());
  const [measureTick, setMeasureTick] = useState(0);
  const [selectedEdges, setSelectedEdges] = useState<Set<string>>(new Set());
  const dragging = useRef(false);
  const build = useMemo(() => makeGraphBuilder(), []);

  const errorsByStep = useMemo(() => {
    const m = new Map<string, number>();
    for (const e of serverErrors) if (e.step) m.set(e.step, (m.get(e.step) ?? 0) + 1);
    return m;
  }, [serverErrors]);

  const selectedId =
    selection?.kind === 'step' ? selection.id : selection?.kind === 'trigger' ? TRIGGER_NODE : null;

  const graph = useMemo(
    () => build({ def, types, selected: selectedId, errorsByStep, readOnly: false, measured: measured.current }),
    // measureTick: rebuild once nodes have been measured.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [build, def, types, selectedId, errorsByStep, measureTick],
  );

  const edges = useMemo(
    () => graph.edges.map((e) => (selectedEdges.has(e.id) ? { ...e, selected: true } : e)),
    [graph.edges, selectedEdges],
  );

  const onNodesChange = useCallback((changes: NodeChange[]) => {
    const store = useEditor.getState();
    let d = store.def;
    let measuredChanged = false;
    const removed = new Set<string>();
    let moved = false;
    let dragEnded = false;
    for (const c of changes) {
      if (c.type === 'dimensions' && c.dimensions) {
        const old = measured.current.get(c.id);
        if (!old || old.width !== c.dimensions.width || old.height !== c.dimensions.height) {
          measured.current.set(c.id, { width: c.dimensions.width, height: c.dimensions.height });
          measuredChanged = true;
        }
      } else if (c.type === 'position' && c.position) {
        if (c.dragging && !dragging.current) {
          dragging.current = true;
          store.checkpoint();
        }
        if (c.dragging === false) dragEnded = true;
        d = setPosition(d, c.id, { x: Math.round(c.position.x), y: Math.round(c.position.y) });
        moved = true;
      } else if (c.type === 'position' && c.dragging === false) {
        dragEnded = true;
      } else if (c.type === 'select' && c.selected) {
        store.select(c.id === TRIGGER_NODE ? { kind: 'trigger' } : c.id === END_NODE ? null : { kind: 'step', id: c.id });
      } else if (c.type === 'remove' && c.id !== TRIGGER_NODE && c.id !== END_NODE) {
        removed.add(c.id);
      }
    }
    if (dragEnded) dragging.current = false;
    if (removed.size) {
      d = removeSteps(d, removed, store.stepTypes);
      store.change(d);
      store.select(null);
    } else if (moved && (dragging.current || dragEnded)) {
      // A drag: one undo entry, made when it started.
      store.change(d, { history: false });
    } else if (moved) {
      // Arrow keys on a selected node: a burst of moves is one undo entry.
      store.change(d, { key: 'keyboard-move' });
    }
    if (measuredChanged) setMeasureTick((t) => t + 1);
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    setSelectedEdges((prev) => {
      let next = prev;
      for (const c of changes) {
        if (c.type === 'select') {
          if (next === prev) next = new Set(prev);
          if (c.selected) next.add(c.id);
          else next.delete(c.id);
        }
      }
      return next;
    });
  }, []);

  const onEdgesDelete = useCallback((deleted: Edge[]) => {
    const store = useEditor.getState();
    let d = store.def;
    for (const e of deleted) {
      const data = e.data as LinkData | undefined;
      if (!data || data.kind === 'implicit') continue;
      d = link(d, e.source, data.handle, null);
    }
    store.change(d);
    setSelectedEdges(new Set());
  }, []);

  const onConnect = useCallback((c: Connection) => {
    if (!c.source || !c.target || c.source === TRIGGER_NODE || c.target === TRIGGER_NODE) return;
    const store = useEditor.getState();
    const target = c.target === END_NODE ? END : c.target;
    store.change(link(store.def, c.source, c.sourceHandle ?? 'next', target));
  }, []);

  const isValidConnection = useCallback(
    (c: Connection | Edge) => c.source !== c.target && c.target !== TRIGGER_NODE && c.source !== END_NODE,
    [],
  );

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(DRAG_TYPE)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }
  }, []);

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(DRAG_TYPE);
      if (!type) return;
      e.preventDefault();
      const p = screenToFlowPosition({ x: e.clientX, y: e.clientY });
      const store = useEditor.getState();
      const step = newStep(store.def, type);
      const zone = [...graph.zones]
        .reverse()
        .find((z) => p.x >= z.x && p.x <= z.x + z.width && p.y >= z.y && p.y <= z.y + z.height);
      // Groups go at the top level only.
      const where = zone && !isGroupType(type)
        ? { parent: zone.parent, branch: zone.branch }
        : { position: { x: Math.round(p.x - 100), y: Math.round(p.y - 30) } };
      store.change(addStep(store.def, step, where));
      store.select({ kind: 'step', id: step.id });
    },
    [graph.zones, screenToFlowPosition],
  );

  return (
    <div className="canvas" onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow
        nodes={graph.nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onEdgesDelete={onEdgesDelete}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onPaneClick={() => useEditor.getState().select({ kind: 'workflow' })}
        deleteKeyCode={['Backspace', 'Delete']}
        fitView
        fitViewOptions={{ maxZoom: 1.1 }}
        minZoom={0.1}
        onlyRenderVisibleElements={graph.nodes.length > 80}
        proOptions={{ hideAttribution: true }}
        aria-label="Workflow canvas"
      >
        <Background gap={24} />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable ariaLabel="Overview of the workflow" style={{ width: 160, height: 110 }} />
      </ReactFlow>
    </div>
  );
}
