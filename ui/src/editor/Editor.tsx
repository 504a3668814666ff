// The workflow editor (routes /workflows/new and /workflows/:id), loaded lazily.

import { Suspense, lazy, useCallback, useDeferredValue, useEffect, useMemo, useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { ReactFlowProvider } from '@xyflow/react';
import { stepTypes as stepTypesApi, workflows } from '../api/api';
import { ApiError, messageOf } from '../api/client';
import type { FieldError, Json, WorkflowView } from '../api/types';
import { StatusBadge } from '../components/Status';
import { RoleButton, RoleNote } from '../components/RoleButton';
import { NEEDS } from '../api/roles';
import { isDirty, useEditor } from './store';
import { addStep, childLists, findStep, isGroupType, newStep } from './model';
import Canvas from './Canvas';
import { Inspector } from './Inspector';
import { Palette } from './Palette';
import { ConflictDialog } from './ConflictDialog';
import { RunDialog } from './RunDialog';
import { HookPanel } from './HookPanel';
import { tidy } from './tidy';

const TextView = lazy(() => import('./TextView'));

type Tab = 'canvas' | 'json' | 'yaml';

/** The id of the workflow this editor created last, not to be fetched again. */
let justCreated: string | null = null;

function isTyping(e: KeyboardEvent): boolean {
  const el = e.composedPath()[0] as HTMLElement | undefined;
  if (!el || !el.tagName) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

export default function Editor() {
  const { id } = useParams();
  const navigate = useNavigate();
  // Not the whole definition: a drag changes it every frame, and this
  // component needs only its name and, at low priority, whether it is saved.
  const name = useEditor((s) => s.def.name);
  const meta = useEditor((s) => s.meta);
  const def = useDeferredValue(useEditor((s) => s.def));
  const saved = useEditor((s) => s.saved);
  const dirty = useMemo(() => isDirty({ def, saved }), [def, saved]);
  const canUndo = useEditor((s) => s.past.length > 0);
  const canRedo = useEditor((s) => s.future.length > 0);
  const types = useEditor((s) => s.stepTypes);
  const serverErrors = useEditor((s) => s.serverErrors);
  const [tab, setTab] = useState<Tab>('canvas');
  const [loadError, setLoadError] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [conflict, setConflict] = useState<WorkflowView | null>(null);
  const [running, setRunning] = useState(false);
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    let live = true;
    setLoaded(false);
    setLoadError(null);
    const store = useEditor.getState();
    if (!id || id === 'new') {
      if (store.meta.id !== null || !store.def.steps.length) store.load(null);
      setLoaded(true);
    } else if (justCreated === id && store.meta.id === id) {
      // Just created here: the store already holds it, with its undo history.
      justCreated = null;
      setLoaded(true);
    } else if (store.meta.id !== id || !isDirty(store)) {
      workflows
        .show(id)
        .then((w) => {
          if (!live) return;
          useEditor.getState().load(w);
          setLoaded(true);
        })
        .catch((e) => live && setLoadError(messageOf(e)));
    } else {
      setLoaded(true);
    }
    stepTypesApi
      .list()
      .then((r) => live && useEditor.getState().setStepTypes(r.data))
      .catch((e) => live && setNotice({ kind: 'error', text: `Step types: ${messageOf(e)}` }));
    return () => {
      live = false;
    };
  }, [id]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || isTyping(e)) return;
      const k = e.key.toLowerCase();
      if (k === 'z' && !e.shiftKey) {
        e.preventDefault();
        useEditor.getState().undo();
      } else if ((k === 'z' && e.shiftKey) || k === 'y') {
        e.preventDefault();
        useEditor.getState().redo();
      } else if (k === 's') {
        e.preventDefault();
        document.getElementById('save-button')?.click();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (isDirty(useEditor.getState())) e.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, []);

  const save = useCallback(
    async (force?: number) => {
      const store = useEditor.getState();
      setBusy(true);
      setNotice(null);
      try {
        if (!store.meta.id) {
          const created = await workflows.create(store.def);
          store.markSaved(created);
          justCreated = created.id;
          setNotice({ kind: 'ok', text: `Created (version ${created.version}).` });
          navigate(`/workflows/${created.id}`, { replace: true });
        } else {
          const saved = await workflows.save(store.meta.id, store.def, force ?? store.meta.version ?? undefined);
          store.markSaved(saved);
          setConflict(null);
          setNotice({ kind: 'ok', text: `Saved version ${saved.version}.` });
        }
      } catch (e) {
        if (e instanceof ApiError && e.status === 409 && e.details && typeof e.details === 'object' && 'current' in e.details) {
          setConflict((e.details as { current: WorkflowView }).current);
        } else if (e instanceof ApiError && e.status === 422) {
          const details = Array.isArray(e.details) ? (e.details as FieldError[]) : [];
          store.setServerErrors(details);
          setNotice({
            kind: 'error',
            text: `Not saved: ${e.message}${details.length ? ` (${details.length} ${details.length === 1 ? 'problem' : 'problems'} shown on the steps)` : ''}`,
          });
        } else {
          setNotice({ kind: 'error', text: `Not saved: ${messageOf(e)}` });
        }
      } finally {
        setBusy(false);
      }
    },
    [navigate],
  );

  const lifecycle = async (action: 'activate' | 'pause' | 'archive') => {
    if (!meta.id) return;
    setNotice(null);
    try {
      const w = await workflows[action](meta.id);
      useEditor.getState().setStatus(w.status);
      setNotice({ kind: 'ok', text: `Workflow is ${w.status}.` });
    } catch (e) {
      if (e instanceof ApiError && Array.isArray(e.details)) useEditor.getState().setServerErrors(e.details as FieldError[]);
      setNotice({ kind: 'error', text: messageOf(e) });
    }
  };

  const addFromPalette = (type: string) => {
    const store = useEditor.getState();
    const step = newStep(store.def, type);
    const sel = store.selection?.kind === 'step' ? findStep(store.def, store.selection.id) : undefined;
    // Into the selected group (its last branch, or a for-each's body), unless
    // the new step is a group itself: groups go at the top level only.
    const into =
      sel && isGroupType(sel.type) && !isGroupType(type)
        ? { parent: sel.id, branch: Math.max(childLists(sel).length - 1, 0) }
        : {};
    store.change(addStep(store.def, step, into));
    store.select({ kind: 'step', id: step.id });
  };

  const selectedParallel = useEditor((s) =>
    s.selection?.kind === 'step' && isGroupType(findStep(s.def, s.selection.id)?.type ?? '') ? s.selection.id : null,
  );

  if (loadError) {
    return (
      <section>
        <h1>Workflow</h1>
        <p className="notice is-error" role="alert">
          {loadError}
        </p>
      </section>
    );
  }
  const unplaced = serverErrors.filter((e) => e.step && !findStep(def, e.step));
  const current = () => useEditor.getState().def;

  return (
    <div className="editor">
      <header className="editor-bar">
        <div className="editor-title">
          <h1>{name || 'Untitled workflow'}</h1>
          {meta.status && <StatusBadge status={meta.status} />}
          {meta.version !== null && <span className="hint">version {meta.version}</span>}
          {dirty && <span className="unsaved">unsaved changes</span>}
        </div>
        <div className="toolbar" role="toolbar" aria-label="Workflow actions">
          <button type="button" onClick={() => useEditor.getState().undo()} disabled={!canUndo} aria-keyshortcuts="Control+Z">
            Undo
          </button>
          <button type="button" onClick={() => useEditor.getState().redo()} disabled={!canRedo} aria-keyshortcuts="Control+Shift+Z">
            Redo
          </button>
          <button
            type="button"
            onClick={() => {
              const s = useEditor.getState();
              s.change(tidy(s.def, s.stepTypes));
              s.requestFit();
            }}
          >
            Tidy
          </button>
          <RoleButton
            type="button"
            id="save-button"
            className="primary"
            need={meta.id ? NEEDS.saveWorkflow : NEEDS.createWorkflow}
            noteId="editor-write-note"
            onClick={() => save()}
            disabled={busy || !loaded}
          >
            Save
          </RoleButton>
          {meta.id && (
            <>
              <RoleButton
                type="button"
                need={NEEDS.activateWorkflow}
                noteId="editor-write-note"
                onClick={() => lifecycle('activate')}
                disabled={meta.status === 'ACTIVE'}
              >
                Activate
              </RoleButton>
              <RoleButton
                type="button"
                need={NEEDS.pauseWorkflow}
                noteId="editor-write-note"
                onClick={() => lifecycle('pause')}
                disabled={meta.status !== 'ACTIVE'}
              >
                Pause
              </RoleButton>
              <RoleButton
                type="button"
                need={NEEDS.archiveWorkflow}
                noteId="editor-write-note"
                onClick={() => lifecycle('archive')}
                disabled={meta.status === 'ARCHIVED'}
              >
                Archive
              </RoleButton>
              <RoleButton type="button" need={NEEDS.triggerRun} noteId="editor-run-note" onClick={() => setRunning(true)}>
                Run now
              </RoleButton>
            </>
          )}
          <RoleNote need={NEEDS.saveWorkflow} id="editor-write-note" />
          {meta.id && <RoleNote need={NEEDS.triggerRun} id="editor-run-note" />}
        </div>
      </header>
      <HookPanel />
      {notice && (
        <p className={`notice ${notice.kind === 'error' ? 'is-error' : 'is-ok'}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
          {notice.text}
        </p>
      )}
      {unplaced.length > 0 && (
        <div role="alert">
          <ul className="field-errors">
            {unplaced.map((e, i) => (
              <li key={i}>
                {e.step}: {e.field}: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className="editor-body">
        <Palette types={types} onAdd={addFromPalette} target={selectedParallel ? `to ${selectedParallel}` : 'to the workflow'} />
        <div className="editor-main">
          <div role="tablist" aria-label="Views of the definition" className="tabs">
            {(['canvas', 'json', 'yaml'] as Tab[]).map((t) => (
              <button
                key={t}
                type="button"
                role="tab"
                id={`tab-${t}`}
                aria-selected={tab === t}
                aria-controls={`panel-${t}`}
                onClick={() => setTab(t)}
              >
                {t === 'canvas' ? 'Canvas' : t.toUpperCase()}
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-panel">
            {tab === 'canvas' ? (
              loaded && (
                <ReactFlowProvider>
                  <Canvas />
                </ReactFlowProvider>
              )
            ) : (
              <Suspense fallback={<p className="hint">Loading the text editor…</p>}>
                <TextView format={tab} key={tab} />
              </Suspense>
            )}
          </div>
        </div>
        <aside className="editor-side" aria-label="Inspector">
          <Inspector />
        </aside>
      </div>
      {conflict && (
        <ConflictDialog
          mine={current()}
          theirs={conflict}
          onClose={() => setConflict(null)}
          onKeepMine={() => {
            const v = conflict.version;
            setConflict(null);
            save(v);
          }}
          onLoadTheirs={() => {
            useEditor.getState().load(conflict);
            setConflict(null);
            setNotice({ kind: 'ok', text: `Loaded their version ${conflict.version}.` });
          }}
        />
      )}
      {running && meta.id && (
        <RunDialog
          onClose={() => setRunning(false)}
          onRun={async (payload: Json) => {
            const r = await workflows.trigger(meta.id!, payload);
            navigate(`/runs/${r.id}`);
          }}
        />
      )}
    </div>
  );
}
