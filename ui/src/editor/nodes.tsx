// Custom node components of the canvas: a step, a parallel group holding its
// branches, and the trigger / end terminals.

import { memo } from 'react';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import type { GroupNodeData, StepNodeData, TerminalNodeData } from './graph';

const STATE_LABEL: Record<string, string> = {
  'not-reached': 'not reached',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  retrying: 'retrying',
  waiting: 'waiting',
  caught: 'failed, caught',
};

function Badges({ data }: { data: StepNodeData }) {
  return (
    <>
      {data.errors > 0 && (
        <span className="node-badge node-badge-error" title="The host refused this step">
          {data.errors} {data.errors === 1 ? 'error' : 'errors'}
        </span>
      )}
      {data.state && <span className={`node-badge state-${data.state}`}>{STATE_LABEL[data.state]}</span>}
    </>
  );
}

function SourceHandles({ data }: { data: StepNodeData }) {
  const n = data.targets.length;
  return (
    <>
      {data.targets.map((t, i) => (
        <Handle
          key={t}
          id={`t:${t}`}
          type="source"
          position={Position.Bottom}
          className="handle-target"
          style={{ left: `${((i + 1) / (n + 2)) * 100}%` }}
          isConnectable={!data.readOnly}
          title={`Connect “${t}”`}
        >
          <span className="handle-label">{t}</span>
        </Handle>
      ))}
      <Handle
        id="next"
        type="source"
        position={Position.Bottom}
        className="handle-next"
        style={n ? { left: `${((n + 1) / (n + 2)) * 100}%` } : undefined}
        isConnectable={!data.readOnly}
        title="Connect next"
      />
      <Handle
        id="error"
        type="source"
        position={Position.Right}
        className="handle-error"
        isConnectable={!data.readOnly}
        title="Connect on error"
      />
    </>
  );
}

export const StepNode = memo(function StepNode({ data, selected }: NodeProps) {
  const d = data as StepNodeData;
  return (
    <div className={`node node-step${selected ? ' is-selected' : ''}${d.state ? ` state-${d.state}` : ''}${d.errors ? ' has-errors' : ''}`}>
      <Handle id="in" type="target" position={Position.Top} isConnectable={!d.readOnly} />
      <div className="node-title">{d.step.id}</div>
      <div className="node-type">{d.step.type}</div>
      <div className="node-badges">
        <Badges data={d} />
      </div>
      <SourceHandles data={d} />
    </div>
  );
});

export const ParallelNode = memo(function ParallelNode({ data, selected }: NodeProps) {
  const d = data as GroupNodeData;
  return (
    <div
      className={`node node-parallel${selected ? ' is-selected' : ''}${d.state ? ` state-${d.state}` : ''}${d.errors ? ' has-errors' : ''}`}
      style={{ height: d.height }}
    >
      <Handle id="in" type="target" position={Position.Top} isConnectable={!d.readOnly} />
      <div className="node-parallel-head">
        <span className="node-title">{d.step.id}</span> <span className="node-type">{d.step.type}</span>
        <Badges data={d} />
      </div>
      {d.columns.map((c, i) => (
        <div key={i} className="branch-column" style={{ left: c.x, width: c.width }}>
          <span className="branch-label">{d.step.type === 'for-each' ? 'each item' : `branch ${i + 1}`}</span>
        </div>
      ))}
      <Handle
        id="next"
        type="source"
        position={Position.Bottom}
        className="handle-next"
        isConnectable={!d.readOnly}
        title="Connect next"
      />
      <Handle
        id="error"
        type="source"
        position={Position.Right}
        className="handle-error"
        isConnectable={!d.readOnly}
        title="Connect on error"
      />
    </div>
  );
});

export const TerminalNode = memo(function TerminalNode({ id, data, selected }: NodeProps) {
  const d = data as TerminalNodeData;
  const isTrigger = id === '__trigger';
  return (
    <div className={`node node-terminal${isTrigger ? ' node-trigger' : ' node-end'}${selected ? ' is-selected' : ''}`}>
      {!isTrigger && <Handle id="in" type="target" position={Position.Top} isConnectable={!d.readOnly} />}
      <div className="node-title">{d.label}</div>
      {d.detail && <div className="node-type">{d.detail}</div>}
      {isTrigger && <Handle id="next" type="source" position={Position.Bottom} isConnectable={false} />}
    </div>
  );
});

export const nodeTypes = { step: StepNode, parallel: ParallelNode, terminal: TerminalNode };
