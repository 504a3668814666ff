// A run: its graph colored by step state, the timeline of every attempt, the
// output or error of the attempt picked, the context; live from the run stream.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useParams } from 'react-router';
import { RoleButton, RoleNote } from '../components/RoleButton';
import { ApprovalForm, decisionNotice } from '../components/ApprovalForm';
import { NEEDS } from '../api/roles';
import { runs as runsApi, stepTypes as stepTypesApi, workflows as workflowsApi } from '../api/api';
import { messageOf } from '../api/client';
import { runStreamUrl, useEventStream } from '../api/stream';
import type { Definition, LogView, RunView, StepTypeView, WorkflowView } from '../api/types';
import { StatusBadge, formatBytes, formatDuration, formatNumber, formatTime } from '../components/Status';
import { allSteps, baseType, definitionOf } from '../editor/model';
import { tidy } from '../editor/tidy';
import { RunGraph } from './RunGraph';
import { outcomeLabel, stepStates } from './states';

const ACTIVE = new Set(['PENDING', 'RUNNING', 'WAITING']);

function startOf(log: LogView): string {
  const end = new Date(log.createdAt).getTime();
  if (Number.isNaN(end)) return log.createdAt;
  return new Date(end - Math.round(log.durationUs / 1000)).toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 3,
  } as Intl.DateTimeFormatOptions);
}

/** The message an approval step waits with, from its `waiting` log row. */
function approvalMessage(logs: LogView[], step: string): string | null {
  const log = logs.findLast((l) => l.step === step && l.action === 'waiting');
  const m = (log?.result as { waitingFor?: { approval?: unknown } } | null)?.waitingFor?.approval;
  return typeof m === 'string' ? m : null;
}

/** The child runs a run's `call-workflow` steps started, from its log. */
function childRuns(logs: LogView[]): { id: string; step: string; workflow: string }[] {
  const seen = new Map<string, { id: string; step: string; workflow: string }>();
  for (const log of logs) {
    const w = (log.result as { waitingFor?: { childRunId?: unknown; workflowName?: unknown } } | null)?.waitingFor;
    if (typeof w?.childRunId === 'string' && !seen.has(w.childRunId)) {
      seen.set(w.childRunId, { id: w.childRunId, step: log.step, workflow: String(w.workflowName ?? '') });
    }
  }
  return [...seen.values()];
}

export default function RunPage() {
  const { id = '' } = useParams();
  const [run, setRun] = useState<RunView | null>(null);
  const [def, setDef] = useState<Definition | null>(null);
  const [types, setTypes] = useState<StepTypeView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [picked, setPicked] = useState<string | null>(null);
  const [full, setFull] = useState<Map<string, LogView>>(new Map());
  const [loadingLog, setLoadingLog] = useState(false);
  // The approval step decided here: its panel hides while the run still reads WAITING.
  const [decided, setDecided] = useState<string | null>(null);

  // Answers of an older fetch that come after a newer one's are dropped.
  const issued = useRef(0);
  const applied = useRef(0);
  const load = useCallback(() => {
    const n = ++issued.current;
    runsApi
      .show(id)
      .then((r) => {
        if (n < applied.current) return;
        applied.current = n;
        setRun(r);
        setError(null);
      })
      .catch((e) => setError(messageOf(e)));
  }, [id]);

  useEffect(() => {
    setRun(null);
    setPicked(null);
    setFull(new Map());
    load();
    stepTypesApi
      .list()
      .then((r) => setTypes(r.data))
      .catch(() => {});
  }, [load]);

  // The graph: the steps of the run's snapshot, placed by the workflow's
  // layout (the snapshot has none), tidied when steps are missing from it.
  const [workflow, setWorkflow] = useState<WorkflowView | null | undefined>(undefined);
  const workflowId = run?.workflowId;
  useEffect(() => {
    if (!workflowId) return;
    workflowsApi
      .show(workflowId)
      .then(setWorkflow)
      .catch(() => setWorkflow(null));
  }, [workflowId]);
  const snapshot = run?.definition;
  const snapshotKey = snapshot ? JSON.stringify(snapshot.steps) : '';
  useEffect(() => {
    if (!run || workflow === undefined || (!snapshot && !workflow)) return;
    const base: Definition = workflow
      ? definitionOf(workflow)
      : { name: snapshot?.workflowName ?? run.workflowId, trigger: { type: 'manual' }, steps: [] };
    const d: Definition = { ...base, name: snapshot?.workflowName ?? base.name, steps: snapshot?.steps ?? base.steps };
    const placed = d.layout?.nodes ?? {};
    setDef(d.steps.every((s) => placed[s.id]) ? d : tidy(d, types));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [snapshotKey, workflow, types.length]);

  useEventStream<RunView>(id ? runStreamUrl({ runId: id }) : null, 'run', (r) => {
    if (r.id === id) load();
  }, load);

  const states = useMemo(() => (run && def ? stepStates(run, def.steps) : new Map()), [run, def]);
  const logs = run?.logs ?? [];
  const children = childRuns(logs);
  useEffect(() => {
    if (run && run.status !== 'WAITING') setDecided(null);
  }, [run]);
  const waitingAt = run?.status === 'WAITING' ? run.currentStep : null;
  const asking = waitingAt && waitingAt !== decided
    ? allSteps(run?.definition?.steps ?? def?.steps ?? []).find((s) => s.id === waitingAt && baseType(s.type) === 'approval')
    : undefined;
  const pickedLog = logs.find((l) => l.id === picked) ?? null;
  const shown = pickedLog ? (full.get(pickedLog.id) ?? pickedLog) : null;

  const pick = (log: LogView) => {
    setPicked(log.id);
    if (log.resultTruncated && !full.has(log.id)) {
      setLoadingLog(true);
      runsApi
        .log(id, log.id)
        .then((l) => setFull((m) => new Map(m).set(l.id, l)))
        .catch((e) => setNotice(messageOf(e)))
        .finally(() => setLoadingLog(false));
    }
  };

  const act = async (what: 'cancel' | 'retry') => {
    setNotice(null);
    try {
      const r = await runsApi[what](id);
      setRun(r);
      setNotice(what === 'cancel' ? 'Cancelled.' : 'Retrying from the failed step.');
    } catch (e) {
      setNotice(messageOf(e));
    }
  };

  if (error) {
    return (
      <section>
        <h1>Run</h1>
        <p className="notice is-error" role="alert">
          {error}
        </p>
      </section>
    );
  }
  if (!run) return <p className="hint">Loading the run…</p>;

  return (
    <div className="run-page">
      <div className="page-head">
        <h1>
          Run <code>{run.id}</code>
        </h1>
        <StatusBadge status={run.status} />
        <div className="toolbar" role="toolbar" aria-label="Run actions">
          <RoleButton
            type="button"
            need={NEEDS.cancelRun}
            noteId="run-actions-note"
            onClick={() => act('cancel')}
            disabled={!ACTIVE.has(run.status)}
          >
            Cancel run
          </RoleButton>
          <RoleButton
            type="button"
            need={NEEDS.retryRun}
            noteId="run-actions-note"
            onClick={() => act('retry')}
            disabled={run.status !== 'FAILED'}
          >
            Retry run
          </RoleButton>
          <RoleNote need={NEEDS.cancelRun} id="run-actions-note" />
        </div>
      </div>
      <dl className="facts">
        <div>
          <dt>Workflow</dt>
          <dd>
            <Link to={`/workflows/${run.workflowId}`}>{def?.name ?? run.workflowId}</Link>
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatTime(run.startedAt)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{formatTime(run.finishedAt)}</dd>
        </div>
        <div>
          <dt>Current step</dt>
          <dd>{run.currentStep ?? '—'}</dd>
        </div>
        {run.wakeAt && (
          <div>
            <dt>Wakes at</dt>
            <dd>{formatTime(run.wakeAt)}</dd>
          </div>
        )}
        {run.parentRunId && (
          <div>
            <dt>Called by</dt>
            <dd>
              <Link to={`/runs/${run.parentRunId}`}>{run.parentRunId}</Link>
            </dd>
          </div>
        )}
        {children.length > 0 && (
          <div>
            <dt>Child runs</dt>
            <dd className="child-runs">
              {children.map((c) => (
                <Link key={c.id} to={`/runs/${c.id}`} title={`${c.step}: ${c.workflow}`}>
                  {c.id}
                </Link>
              ))}
            </dd>
          </div>
        )}
      </dl>
      {run.error && (
        <p className="notice is-error" role="status">
          {run.error}
        </p>
      )}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {asking && (
        <section className="card approval-panel" aria-labelledby="approval-title">
          <h2 id="approval-title">Waiting for an approval</h2>
          <p className="approval-message">
            Step <code>{asking.id}</code>: {approvalMessage(logs, asking.id) ?? 'no message'}
          </p>
          <ApprovalForm
            key={`${run.id}|${asking.id}`}
            runId={run.id}
            step={asking.id}
            onDecided={(d) => {
              setDecided(d.step);
              setNotice(decisionNotice(d));
              load();
            }}
            onConflict={(message) => {
              setNotice(message);
              load();
            }}
          />
        </section>
      )}
      <div className="run-layout">
        <section aria-labelledby="graph-title" className="run-graph">
          <h2 id="graph-title">Steps</h2>
          <ul className="legend" aria-label="Legend">
            {['not-reached', 'running', 'waiting', 'retrying', 'completed', 'failed'].map((s) => (
              <li key={s} className={`state-${s}`}>
                {s.replace('-', ' ')}
              </li>
            ))}
          </ul>
          {def ? (
            <RunGraph
              def={def}
              types={types}
              states={states}
              selected={pickedLog?.step ?? null}
              onSelect={(step) => {
                const last = [...logs].reverse().find((l) => l.step === step);
                if (last) pick(last);
              }}
            />
          ) : (
            <p className="hint">Loading the definition…</p>
          )}
        </section>
        <section aria-labelledby="output-title" className="run-output">
          <h2 id="output-title">Output</h2>
          {shown ? (
            <>
              <p>
                <strong>{shown.step}</strong>, attempt {shown.attempt}: {outcomeLabel(shown.action)}
              </p>
              {loadingLog ? (
                <p className="hint">Loading the full output…</p>
              ) : shown.resultTruncated && !full.has(shown.id) ? (
                <p className="hint">
                  Output of {formatBytes(shown.resultBytes ?? 0)} not loaded.
                </p>
              ) : (
                <pre className="json" aria-label={`Output of ${shown.step} attempt ${shown.attempt}`} tabIndex={0}>
                  {JSON.stringify(shown.result, null, 2)}
                </pre>
              )}
            </>
          ) : (
            <p className="hint">Pick an attempt in the timeline (or a step in the graph) to see its output or error.</p>
          )}
        </section>
      </div>
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <table className="timeline">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Step</th>
              <th scope="col" className="num">
                Attempt
              </th>
              <th scope="col">Start</th>
              <th scope="col" className="num">
                Duration
              </th>
              <th scope="col" className="num">
                Fuel
              </th>
              <th scope="col" className="num">
                Peak memory
              </th>
              <th scope="col">Outcome</th>
              <th scope="col">Output</th>
            </tr>
          </thead>
          <tbody>
            {logs.map((l, i) => (
              <tr key={l.id} className={`${l.id === picked ? 'is-picked ' : ''}outcome-${l.action}`}>
                <td>{l.seq ?? i + 1}</td>
                <td>{l.step}</td>
                <td className="num">{l.attempt}</td>
                <td>
                  <time dateTime={l.createdAt}>{startOf(l)}</time>
                </td>
                <td className="num">{formatDuration(l.durationUs)}</td>
                <td className="num">{formatNumber(l.fuel)}</td>
                <td className="num">{formatBytes(l.peakMemoryBytes)}</td>
                <td>
                  <span className={`outcome outcome-${l.action}`}>{outcomeLabel(l.action)}</span>
                </td>
                <td>
                  <button type="button" className="link" onClick={() => pick(l)} aria-pressed={l.id === picked}>
                    Show output of {l.step} attempt {l.attempt}
                  </button>
                </td>
              </tr>
            ))}
            {logs.length === 0 && (
              <tr>
                <td colSpan={9} className="hint">
                  No attempt yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="context-title">
        <h2 id="context-title">Context</h2>
        <details>
          <summary>Show the run's context (event, vars, step outputs)</summary>
          <pre className="json" tabIndex={0} aria-label="Run context">
            {JSON.stringify(run.context ?? null, null, 2)}
          </pre>
        </details>
      </section>
    </div>
  );
}
