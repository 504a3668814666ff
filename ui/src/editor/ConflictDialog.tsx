// Shown when a save answers 409: someone saved a newer version. Lists what
// differs between this editor's definition and theirs.

import { useEffect, useRef } from 'react';
import type { Definition, WorkflowView } from '../api/types';
import { definitionOf, diffDefinitions } from './model';

export function ConflictDialog({
  mine,
  theirs,
  onKeepMine,
  onLoadTheirs,
  onClose,
}: {
  mine: Definition;
  theirs: WorkflowView;
  onKeepMine: () => void;
  onLoadTheirs: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    return () => d.close();
  }, []);
  const diff = diffDefinitions(mine, definitionOf(theirs));
  const items: string[] = [];
  if (diff.name) items.push(`Name: yours “${mine.name}”, theirs “${theirs.name}”`);
  if (diff.description) items.push('Description differs');
  if (diff.trigger) items.push(`Trigger differs (theirs: ${theirs.trigger.type})`);
  for (const id of diff.added) items.push(`Step “${id}” is only in theirs`);
  for (const id of diff.removed) items.push(`Step “${id}” is only in yours`);
  for (const id of diff.changed) items.push(`Step “${id}” differs`);
  if (diff.layout && items.length === 0) items.push('Only node positions differ');
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="conflict-title" onCancel={onClose}>
      <h2 id="conflict-title">Someone saved a newer version</h2>
      <p>
        Version {theirs.version} was saved at {new Date(theirs.updatedAt).toLocaleString()} while you were editing. What
        differs between yours and theirs:
      </p>
      <ul className="diff-list" aria-label="Differences">
        {items.length ? items.map((i) => <li key={i}>{i}</li>) : <li>Nothing: the definitions are the same.</li>}
      </ul>
      <div className="actions">
        <button type="button" className="danger" onClick={onKeepMine}>
          Keep mine (overwrite)
        </button>
        <button type="button" onClick={onLoadTheirs}>
          Load theirs
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
