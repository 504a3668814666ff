// A run's workflow graph, each step colored by its state.

import { useMemo, useRef, useState } from 'react';
import { Background, Controls, ReactFlow, ReactFlowProvider, type NodeChange } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import type { Definition, StepTypeView } from '../api/types';
import { END_NODE, TRIGGER_NODE, makeGraphBuilder, type StepState } from '../editor/graph';
import { nodeTypes } from '../editor/nodes';

export function RunGraph({
  def,
  types,
  states,
  selected,
  onSelect,
}: {
  def: Definition;
  types: StepTypeView[];
  states: Map<string, StepState>;
  selected: string | null;
  onSelect: (step: string) => void;
}) {
  const build = useMemo(() => makeGraphBuilder(), []);
  const measured = useRef(new Map<string, { width: number; height: number }>());
  const [tick, setTick] = useState(0);
  const graph = useMemo(
    () => build({ def, types, selected, errorsByStep: new Map(), states, readOnly: true, measured: measured.current }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [build, def, types, selected, states, tick],
  );
  const onNodesChange = (changes: NodeChange[]) => {
    let changed = false;
    for (const c of changes) {
      if (c.type === 'dimensions' && c.dimensions) {
        measured.current.set(c.id, { width: c.dimensions.width, height: c.dimensions.height });
        changed = true;
      } else if (c.type === 'select' && c.selected && c.id !== TRIGGER_NODE && c.id !== END_NODE) {
        onSelect(c.id);
      }
    }
    if (changed) setTick((t) => t + 1);
  };
  return (
    <div className="canvas run-canvas">
      <ReactFlowProvider>
        <ReactFlow
          nodes={graph.nodes}
          edges={graph.edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          nodesDraggable={false}
          nodesConnectable={false}
          edgesFocusable={false}
          deleteKeyCode={null}
          fitView
          fitViewOptions={{ maxZoom: 1 }}
          minZoom={0.1}
          proOptions={{ hideAttribution: true }}
          aria-label="Run graph"
        >
          <Background gap={24} />
          <Controls showInteractive={false} />
        </ReactFlow>
      </ReactFlowProvider>
    </div>
  );
}
