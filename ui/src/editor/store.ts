// The editor's one store: the definition being edited, with undo and redo.
// The canvas, the forms and the JSON/YAML views are all views of `def`.

import { create } from 'zustand';
import type { Definition, FieldError, HookView, StepTypeView, WorkflowStatus, WorkflowView } from '../api/types';
import { definitionOf, emptyDefinition, stable } from './model';

const HISTORY = 200;
const COALESCE_MS = 800;

export interface Meta {
  id: string | null;
  version: number | null;
  status: WorkflowStatus | null;
  /** Where the saved workflow listens, when its trigger is a webhook. */
  hook: HookView | null;
}

export type Selection = { kind: 'step'; id: string } | { kind: 'trigger' } | { kind: 'workflow' } | null;

interface EditorState {
  def: Definition;
  meta: Meta;
  /** The definition as last loaded or saved, to tell unsaved changes. */
  saved: string;
  past: Definition[];
  future: Definition[];
  lastKey: string | null;
  lastAt: number;
  selection: Selection;
  serverErrors: FieldError[];
  stepTypes: StepTypeView[];
  /** Bumped to ask the canvas to fit the view (after a tidy). */
  fit: number;
  requestFit: () => void;

  load: (view: WorkflowView | null) => void;
  markSaved: (view: WorkflowView) => void;
  /**
   * Replaces the definition. `key` coalesces a burst of edits of one field into
   * one undo entry; `history: false` skips the undo entry (during a drag).
   */
  change: (def: Definition, opts?: { key?: string; history?: boolean }) => void;
  /** Saves the current definition as an undo point (start of a drag). */
  checkpoint: () => void;
  undo: () => void;
  redo: () => void;
  select: (s: Selection) => void;
  setServerErrors: (errors: FieldError[]) => void;
  setStepTypes: (types: StepTypeView[]) => void;
  setStatus: (status: WorkflowStatus) => void;
}

export const useEditor = create<EditorState>()((set, get) => ({
  def: emptyDefinition(),
  meta: { id: null, version: null, status: null, hook: null },
  saved: stable(emptyDefinition()),
  past: [],
  future: [],
  lastKey: null,
  lastAt: 0,
  selection: null,
  serverErrors: [],
  stepTypes: [],
  fit: 0,
  requestFit: () => set((s) => ({ fit: s.fit + 1 })),

  load: (view) => {
    const def = view ? definitionOf(view) : emptyDefinition();
    set({
      def,
      meta: view ? metaOf(view, get().meta) : { id: null, version: null, status: null, hook: null },
      saved: view ? stable(def) : '',
      past: [],
      future: [],
      lastKey: null,
      selection: null,
      serverErrors: [],
    });
  },

  markSaved: (view) =>
    set((s) => ({
      meta: metaOf(view),
      saved: stable(s.def),
      serverErrors: [],
    })),

  change: (def, opts = {}) => {
    const s = get();
    if (def === s.def) return;
    const now = Date.now();
    const history = opts.history !== false;
    const coalesce = history && opts.key !== undefined && opts.key === s.lastKey && now - s.lastAt < COALESCE_MS;
    if (!history || coalesce) {
      set({ def, future: history ? [] : s.future, lastAt: now });
      return;
    }
    set({
      def,
      past: [...s.past.slice(-HISTORY + 1), s.def],
      future: [],
      lastKey: opts.key ?? null,
      lastAt: now,
    });
  },

  checkpoint: () => set((s) => ({ past: [...s.past.slice(-HISTORY + 1), s.def], future: [], lastKey: null })),

  undo: () =>
    set((s) => {
      if (s.past.length === 0) return s;
      const def = s.past[s.past.length - 1];
      return { def, past: s.past.slice(0, -1), future: [s.def, ...s.future], lastKey: null };
    }),

  redo: () =>
    set((s) => {
      if (s.future.length === 0) return s;
      const [def, ...future] = s.future;
      return { def, past: [...s.past, s.def], future, lastKey: null };
    }),

  select: (selection) => set({ selection }),
  setServerErrors: (serverErrors) => set({ serverErrors }),
  setStepTypes: (stepTypes) => set({ stepTypes }),
  setStatus: (status) => set((s) => ({ meta: { ...s.meta, status } })),
}));

/** A hook's path never changes: a view without it (a 409's `current`) keeps the one known. */
function metaOf(view: WorkflowView, known?: Meta): Meta {
  const keep = known?.id === view.id && view.trigger?.type === 'webhook';
  const hook = view.hook ?? (keep ? known.hook : null);
  return { id: view.id, version: view.version, status: view.status, hook };
}

const stableOf = new WeakMap<Definition, string>();

/** Whether the definition differs from the one last loaded or saved. */
export function isDirty(s: { def: Definition; saved: string }): boolean {
  let text = stableOf.get(s.def);
  if (text === undefined) {
    text = stable(s.def);
    stableOf.set(s.def, text);
  }
  return text !== s.saved;
}
