// Every step type the host knows (GET /api/step-types), to drag onto the
// canvas or, from the keyboard, to add with its button.

import type { StepTypeView } from '../api/types';
import { DRAG_TYPE } from './Canvas';

export function Palette({ types, onAdd, target }: { types: StepTypeView[]; onAdd: (type: string) => void; target: string }) {
  return (
    <nav className="palette" aria-labelledby="palette-title">
      <h2 id="palette-title">Steps</h2>
      <p className="hint">Drag onto the canvas, or press to add {target}.</p>
      <ul>
        {types.map((t) => (
          <li key={t.type}>
            <button
              type="button"
              className={`palette-item kind-${t.kind}`}
              draggable
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_TYPE, t.type);
                e.dataTransfer.effectAllowed = 'copy';
              }}
              onClick={() => onAdd(t.type)}
              aria-describedby={`palette-desc-${t.type}`}
            >
              <span className="visually-hidden">Add </span>
              <span className="palette-name">{t.type}</span>
              <span className="visually-hidden"> step</span>
            </button>
            <span className="palette-desc" id={`palette-desc-${t.type}`}>
              {t.description}
            </span>
          </li>
        ))}
      </ul>
    </nav>
  );
}
