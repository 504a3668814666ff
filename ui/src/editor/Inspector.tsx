// The side panel: the selected step (id, links, retry, its config form), the
// trigger (with the host's preview of cron fire times), or the workflow.

import { useEffect, useId, useMemo, useState } from 'react';
import { cron } from '../api/api';
import { ApiError, messageOf } from '../api/client';
import type { FieldError, JsonObject, RetryPolicy, Step, Trigger } from '../api/types';
import { useEditor } from './store';
import {
  addBranch,
  addStep,
  allSteps,
  baseType,
  childLists,
  findStep,
  newStep,
  removeSteps,
  renameStep,
  stable,
  stepTypeOf,
  updateStep,
} from './model';
import StepForm from './StepForm';
import { WebhookFields } from './WebhookFields';
import { asJson, newWebhookTrigger, webhookConfig } from './webhook';
import { FieldErrors } from './FieldErrors';

export function Inspector() {
  const selection = useEditor((s) => s.selection);
  if (selection?.kind === 'step') return <StepInspector id={selection.id} />;
  if (selection?.kind === 'trigger') return <TriggerInspector />;
  return <WorkflowInspector />;
}

function WorkflowInspector() {
  const def = useEditor((s) => s.def);
  const errors = useEditor((s) => s.serverErrors);
  const change = useEditor((s) => s.change);
  const general = errors.filter((e) => !e.step && !e.field.startsWith('trigger'));
  return (
    <section className="inspector" aria-labelledby="inspector-title">
      <h2 id="inspector-title">Workflow</h2>
      <div className="field">
        <label htmlFor="wf-name">Name</label>
        <input
          id="wf-name"
          value={def.name}
          onChange={(e) => change({ ...def, name: e.target.value }, { key: 'name' })}
        />
        <FieldErrors errors={general.filter((e) => e.field === 'name')} />
      </div>
      <div className="field">
        <label htmlFor="wf-description">Description</label>
        <textarea
          id="wf-description"
          rows={3}
          value={def.description ?? ''}
          onChange={(e) => {
            const d = { ...def, description: e.target.value || undefined };
            if (!e.target.value) delete d.description;
            change(d, { key: 'description' });
          }}
        />
      </div>
      <FieldErrors errors={general.filter((e) => e.field !== 'name').map((e) => ({ ...e, message: `${e.field}: ${e.message}` }))} />
      <p className="hint">
        Select a step on the canvas to edit it, or the trigger node to edit what starts runs. Add steps from the
        palette: drag one onto the canvas, or press its button.
      </p>
    </section>
  );
}

function StepInspector({ id }: { id: string }) {
  const def = useEditor((s) => s.def);
  const types = useEditor((s) => s.stepTypes);
  const serverErrors = useEditor((s) => s.serverErrors);
  const change = useEditor((s) => s.change);
  const select = useEditor((s) => s.select);
  const step = findStep(def, id);
  const ids = useMemo(() => allSteps(def.steps).map((s) => s.id), [def.steps]);
  const [draftId, setDraftId] = useState(id);
  const [idError, setIdError] = useState<string | null>(null);
  useEffect(() => {
    setDraftId(id);
    setIdError(null);
  }, [id]);
  const errors = useMemo(() => serverErrors.filter((e) => e.step === id), [serverErrors, id]);
  const configErrors = useMemo(() => errors.filter((e) => e.field.startsWith('config')), [errors]);
  const fid = useId();
  if (!step) return <WorkflowInspector />;
  const info = stepTypeOf(step.type, types);
  const targets = info?.targets ?? [];
  const others = ids.filter((x) => x !== id);
  const set = (f: (s: Step) => Step, key?: string) => change(updateStep(def, id, f), { key: key && `${id}:${key}` });
  const commitId = () => {
    const to = draftId.trim();
    if (to === id) return;
    if (!/^[A-Za-z0-9_-]+$/.test(to)) return setIdError('use letters, digits, - and _');
    if (to === 'end' || ids.includes(to)) return setIdError(`\`${to}\` is taken`);
    setIdError(null);
    change(renameStep(def, id, to, types));
    select({ kind: 'step', id: to });
  };
  const linkSelect = (field: 'next' | 'onError', label: string, empty: string) => (
    <div className="field">
      <label htmlFor={`${fid}-${field}`}>{label}</label>
      <select
        id={`${fid}-${field}`}
        value={step[field] ?? ''}
        onChange={(e) =>
          set((s) => {
            const out = { ...s };
            if (e.target.value) out[field] = e.target.value;
            else delete out[field];
            return out;
          })
        }
      >
        <option value="">{empty}</option>
        <option value="end">end (finish)</option>
        {others.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
        {step[field] && step[field] !== 'end' && !others.includes(step[field]!) && (
          <option value={step[field]}>{step[field]} (missing)</option>
        )}
      </select>
      <FieldErrors errors={errors.filter((e) => e.field === field)} />
    </div>
  );
  const retry = step.retry;
  const setRetry = (r: Partial<RetryPolicy> | null) =>
    set((s) => {
      const out = { ...s };
      if (r === null) delete out.retry;
      else out.retry = { ...(s.retry ?? { maxAttempts: 3, backoffMs: 1000 }), ...r };
      return out;
    }, 'retry');
  const shown = new Set(['id', 'next', 'onError', 'type']);
  const rest = errors.filter((e) => !shown.has(e.field) && !e.field.startsWith('config') && !e.field.startsWith('retry'));
  const schema = info?.configSchema;
  return (
    <section className="inspector" aria-labelledby="inspector-title">
      <h2 id="inspector-title">
        Step <code>{step.id}</code>
      </h2>
      {info?.description && <p className="hint">{info.description}</p>}
      {!info && types.length > 0 && (
        <p className="field-errors" role="alert">
          Unknown step type `{step.type}`: no installed plugin provides it.
        </p>
      )}
      <FieldErrors errors={rest.map((e) => ({ ...e, message: `${e.field}: ${e.message}` }))} />
      <div className="field">
        <label htmlFor={`${fid}-id`}>Step id</label>
        <input
          id={`${fid}-id`}
          value={draftId}
          onChange={(e) => setDraftId(e.target.value)}
          onBlur={commitId}
          onKeyDown={(e) => e.key === 'Enter' && commitId()}
          aria-invalid={idError ? true : undefined}
        />
        {idError && <p className="field-errors" role="alert">{idError}</p>}
        <FieldErrors errors={errors.filter((e) => e.field === 'id')} />
      </div>
      <div className="field">
        <label htmlFor={`${fid}-type`}>Type</label>
        <select id={`${fid}-type`} value={step.type} onChange={(e) => set((s) => ({ ...s, type: e.target.value }))}>
          <option value={step.type}>{step.type}</option>
          {info &&
            [info.type, ...info.versions.map((v) => `${info.type}@${v}`)]
              .filter((t) => t !== step.type)
              .map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
        </select>
        <FieldErrors errors={errors.filter((e) => e.field === 'type')} />
      </div>
      {linkSelect('next', 'Next step', '(the next one in the list)')}
      {linkSelect('onError', 'On error, go to', '(none: the run fails)')}
      <fieldset className="field-group">
        <legend>Retry</legend>
        <div className="field inline">
          <input
            type="checkbox"
            id={`${fid}-retry`}
            checked={!!retry}
            onChange={(e) => setRetry(e.target.checked ? {} : null)}
          />
          <label htmlFor={`${fid}-retry`}>Retry retryable errors</label>
        </div>
        {retry && (
          <div className="row">
            <div className="field">
              <label htmlFor={`${fid}-attempts`}>Attempts in all</label>
              <input
                id={`${fid}-attempts`}
                type="number"
                min={1}
                value={retry.maxAttempts}
                onChange={(e) => setRetry({ maxAttempts: Number(e.target.value) || 1 })}
              />
            </div>
            <div className="field">
              <label htmlFor={`${fid}-backoff`}>First wait (ms)</label>
              <input
                id={`${fid}-backoff`}
                type="number"
                min={0}
                value={retry.backoffMs ?? 1000}
                onChange={(e) => setRetry({ backoffMs: Number(e.target.value) || 0 })}
              />
            </div>
          </div>
        )}
        <FieldErrors errors={errors.filter((e) => e.field.startsWith('retry'))} />
      </fieldset>
      {baseType(step.type) === 'parallel' || step.branches ? (
        <BranchEditor step={step} />
      ) : schema && typeof schema === 'object' ? (
        <fieldset className="field-group">
          <legend>Config</legend>
          <StepForm
            stepId={step.id}
            schema={schema}
            targets={targets}
            stepIds={others}
            value={step.config ?? {}}
            serverErrors={configErrors}
            onChange={(config) => {
              const cur = findStep(useEditor.getState().def, id);
              if (stable(cur?.config ?? {}) === stable(config)) return;
              set((s) => ({ ...s, config }), 'config');
            }}
          />
        </fieldset>
      ) : (
        <ConfigJson step={step} onChange={(config) => set((s) => ({ ...s, config }), 'config')} errors={configErrors} />
      )}
      {baseType(step.type) === 'for-each' && <BranchEditor step={step} />}
      <div className="actions">
        <button
          type="button"
          className="danger"
          onClick={() => {
            change(removeSteps(def, new Set([id]), types));
            select({ kind: 'workflow' });
          }}
        >
          Delete step
        </button>
      </div>
    </section>
  );
}

/** A plain JSON box for a step type without a schema (or an unknown one). */
function ConfigJson({ step, onChange, errors }: { step: Step; onChange: (c: JsonObject) => void; errors: FieldError[] }) {
  const [text, setText] = useState(() => JSON.stringify(step.config ?? {}, null, 2));
  const [error, setError] = useState<string | null>(null);
  const fid = useId();
  return (
    <div className="field">
      <label htmlFor={fid}>Config (JSON)</label>
      <textarea
        id={fid}
        rows={6}
        className="mono"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          try {
            const v = JSON.parse(e.target.value);
            if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('config must be an object');
            setError(null);
            onChange(v);
          } catch (err) {
            setError(messageOf(err));
          }
        }}
      />
      {error && <p className="field-errors" role="alert">{error}</p>}
      <FieldErrors errors={errors} />
    </div>
  );
}

/** The step type last chosen for a branch, kept while the editor is open. */
let lastKind = '';

function BranchEditor({ step }: { step: Step }) {
  const def = useEditor((s) => s.def);
  const types = useEditor((s) => s.stepTypes);
  const change = useEditor((s) => s.change);
  const select = useEditor((s) => s.select);
  const [kind, setKindState] = useState<string>(lastKind);
  const setKind = (k: string) => {
    lastKind = k;
    setKindState(k);
  };
  const fid = useId();
  // A body or a branch holds no parallel or for-each step.
  const choices = types.map((t) => t.type).filter((c) => c !== 'parallel' && c !== 'for-each');
  const chosen = (choices.includes(kind) ? kind : '') || choices[0] || '';
  const body = baseType(step.type) === 'for-each';
  return (
    <fieldset className="field-group">
      <legend>{body ? 'Steps run for each item' : 'Branches'}</legend>
      <div className="field">
        <label htmlFor={`${fid}-kind`}>Step type to add</label>
        <select id={`${fid}-kind`} value={chosen} onChange={(e) => setKind(e.target.value)}>
          {choices.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </div>
      <ol className="branches">
        {(body ? [step.steps ?? []] : childLists(step)).map((b, i) => (
          <li key={i}>
            <span>
              {body ? 'Each item' : `Branch ${i + 1}`}: {b.length ? b.map((s) => s.id).join(', ') : 'empty'}
            </span>
            <button
              type="button"
              disabled={!chosen}
              onClick={() => {
                const s = newStep(def, chosen);
                change(addStep(def, s, { parent: step.id, branch: i }));
                select({ kind: 'step', id: s.id });
              }}
            >
              {body ? 'Add step to the body' : `Add step to branch ${i + 1}`}
            </button>
          </li>
        ))}
      </ol>
      {!body && (
        <button type="button" onClick={() => change(addBranch(def, step.id))}>
          Add branch
        </button>
      )}
    </fieldset>
  );
}

function TriggerInspector() {
  const def = useEditor((s) => s.def);
  const change = useEditor((s) => s.change);
  const serverErrors = useEditor((s) => s.serverErrors);
  const t = def.trigger;
  const config = (t.config ?? {}) as Record<string, string | undefined>;
  const errors = serverErrors.filter((e) => e.field.startsWith('trigger'));
  const setTrigger = (next: Trigger, key?: string) => change({ ...def, trigger: next }, { key });
  const [preview, setPreview] = useState<{ next: string[] } | null>(null);
  const [previewErrors, setPreviewErrors] = useState<FieldError[]>([]);
  const expression = config.expression ?? '';
  const timezone = config.timezone ?? '';
  useEffect(() => {
    if (t.type !== 'cron' || !expression.trim()) {
      setPreview(null);
      setPreviewErrors([]);
      return;
    }
    const timer = window.setTimeout(() => {
      cron
        .preview(expression, timezone || undefined, 5)
        .then((r) => {
          setPreview(r);
          setPreviewErrors([]);
        })
        .catch((e) => {
          setPreview(null);
          if (e instanceof ApiError && Array.isArray(e.details)) setPreviewErrors(e.details as FieldError[]);
          else setPreviewErrors([{ field: 'expression', message: messageOf(e) }]);
        });
    }, 300);
    return () => window.clearTimeout(timer);
  }, [t.type, expression, timezone]);
  const onField = (f: string) => [
    ...errors.filter((e) => e.field === `trigger.config.${f}` || e.field === `trigger.${f}`),
    ...previewErrors.filter((e) => e.field === f),
  ];
  return (
    <section className="inspector" aria-labelledby="inspector-title">
      <h2 id="inspector-title">Trigger</h2>
      <div className="field">
        <label htmlFor="trigger-type">Starts on</label>
        <select
          id="trigger-type"
          value={t.type}
          onChange={(e) => {
            const type = e.target.value as Trigger['type'];
            setTrigger(
              type === 'manual'
                ? { type }
                : type === 'event'
                  ? { type, config: { event: '' } }
                  : type === 'webhook'
                    ? newWebhookTrigger()
                    : { type, config: { expression: '0 9 * * *' } },
            );
          }}
        >
          <option value="manual">manual (Run now, or the API)</option>
          <option value="event">event</option>
          <option value="cron">cron schedule</option>
          <option value="webhook">webhook (a request to its own URL)</option>
        </select>
      </div>
      <FieldErrors errors={errors.filter((e) => e.field === 'trigger' || e.field === 'trigger.type')} />
      {t.type === 'event' && (
        <div className="field">
          <label htmlFor="trigger-event">Event type</label>
          <input
            id="trigger-event"
            placeholder="contact.created"
            value={config.event ?? ''}
            onChange={(e) => setTrigger({ type: 'event', config: { event: e.target.value } }, 'trigger.event')}
          />
          <FieldErrors errors={onField('event')} />
        </div>
      )}
      {t.type === 'webhook' && (
        <WebhookFields
          config={webhookConfig(t)}
          errors={errors.filter((e) => e.field.startsWith('trigger.config'))}
          onChange={(c, key) => setTrigger({ type: 'webhook', config: asJson(c) }, key)}
        />
      )}
      {t.type === 'cron' && (
        <>
          <div className="field">
            <label htmlFor="trigger-expression">Cron expression</label>
            <input
              id="trigger-expression"
              className="mono"
              value={expression}
              aria-describedby="trigger-expression-help"
              onChange={(e) =>
                setTrigger(
                  { type: 'cron', config: { ...(config as JsonObject), expression: e.target.value } },
                  'trigger.expression',
                )
              }
            />
            <p className="hint" id="trigger-expression-help">
              5 fields as in crontab (or @daily), 6 with seconds first.
            </p>
            <FieldErrors errors={onField('expression')} />
          </div>
          <div className="field">
            <label htmlFor="trigger-timezone">Time zone</label>
            <input
              id="trigger-timezone"
              placeholder="UTC"
              value={timezone}
              onChange={(e) => {
                const c: JsonObject = { ...(config as JsonObject), timezone: e.target.value };
                if (!e.target.value) delete c.timezone;
                setTrigger({ type: 'cron', config: c }, 'trigger.timezone');
              }}
            />
            <FieldErrors errors={onField('timezone')} />
          </div>
          <div className="cron-preview" aria-live="polite">
            <h3>Next fire times</h3>
            {preview ? (
              <ol aria-label="Next fire times">
                {preview.next.map((n) => (
                  <li key={n}>
                    <time dateTime={n}>{new Date(n).toLocaleString()}</time> <span className="hint">{n}</span>
                  </li>
                ))}
              </ol>
            ) : (
              <p className="hint">{previewErrors.length ? 'No preview: fix the errors above.' : '…'}</p>
            )}
          </div>
        </>
      )}
    </section>
  );
}
