// Runs, filtered by workflow and status, one page at a time (never all of
// them), updated live from the run stream.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { runs as runsApi, workflows as workflowsApi } from '../api/api';
import { messageOf } from '../api/client';
import { runStreamUrl, useEventStream } from '../api/stream';
import type { Paged, RunStatus, RunView, WorkflowView } from '../api/types';
import { RUN_STATUSES } from '../api/types';
import { Pager } from '../components/Pager';
import { StatusBadge, formatTime } from '../components/Status';
import { Notices } from '../components/Notices';

const PAGE_SIZE = 50;

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const workflowId = params.get('workflowId') ?? '';
  const status = (params.get('status') ?? '') as RunStatus | '';
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1);
  const [data, setData] = useState<Paged<RunView> | null>(null);
  const [workflows, setWorkflows] = useState<WorkflowView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [fresh, setFresh] = useState(0);
  const dataRef = useRef(data);
  dataRef.current = data;

  useEffect(() => {
    workflowsApi
      .list({ pageSize: 200 })
      .then((r) => setWorkflows(r.data))
      .catch(() => {});
  }, []);

  const query = useRef(0);
  // Run events that came while the page was being fetched: newer than its
  // answer, so applied again on top of it.
  const inFlight = useRef<RunView[] | null>(null);
  const load = useCallback(() => {
    const n = ++query.current;
    const since: RunView[] = [];
    inFlight.current = since;
    runsApi
      .list({ workflowId: workflowId || undefined, status, page, pageSize: PAGE_SIZE })
      .then((r) => {
        if (n !== query.current) return;
        inFlight.current = null;
        dataRef.current = r;
        for (const run of since) applyRef.current(run);
        setData(dataRef.current);
        setError(null);
      })
      .catch((e) => n === query.current && setError(messageOf(e)));
  }, [workflowId, status, page]);
  useEffect(load, [load]);

  // Runs started after this page was loaded, counted once each.
  const counted = useRef(new Set<string>());
  useEffect(() => {
    counted.current = new Set();
  }, [workflowId, status, page]);
  /** Applies one run change to the page shown (dataRef first, then the state). */
  const apply = (run: RunView) => {
    const prev = dataRef.current;
    if (!prev) return;
    const matches = !status || run.status === status;
    const i = prev.data.findIndex((r) => r.id === run.id);
    let next = prev;
    if (i >= 0) {
      const rows = prev.data.slice();
      if (matches) rows[i] = { ...rows[i], ...run };
      else rows.splice(i, 1);
      next = { ...prev, data: rows };
    } else if (matches && !counted.current.has(run.id)) {
      const newest = prev.data[0]?.startedAt ?? '';
      const isNew = page === 1 ? prev.data.length < PAGE_SIZE || run.startedAt >= prev.data[prev.data.length - 1].startedAt : run.startedAt > newest;
      if (isNew) {
        counted.current.add(run.id);
        if (page === 1) {
          const rows = [run, ...prev.data].sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1)).slice(0, PAGE_SIZE);
          next = { ...prev, total: prev.total + 1, data: rows };
        } else {
          next = { ...prev, total: prev.total + 1 };
          setFresh((n) => n + 1);
        }
      }
    }
    if (next !== prev) {
      // Events can come faster than renders: the next one must see this one.
      dataRef.current = next;
      setData(next);
    }
  };
  const applyRef = useRef(apply);
  applyRef.current = apply;
  useEventStream<RunView>(
    runStreamUrl({ workflowId: workflowId || undefined }),
    'run',
    (run) => {
      inFlight.current?.push(run);
      apply(run);
    },
    load,
  );

  const names = useMemo(() => new Map(workflows.map((w) => [w.id, w.name])), [workflows]);
  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== 'page') next.delete('page');
    setParams(next);
    if (key === 'page') setFresh(0);
  };

  return (
    <section aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter runs">
        <div className="field">
          <label htmlFor="filter-workflow">Workflow</label>
          <select id="filter-workflow" value={workflowId} onChange={(e) => setParam('workflowId', e.target.value)}>
            <option value="">all workflows</option>
            {workflows.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setParam('status', e.target.value)}>
            <option value="">all statuses</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </form>
      <Notices error={error} />
      {fresh > 0 && (
        <p className="notice" role="status">
          {fresh} new {fresh === 1 ? 'run' : 'runs'} since this page loaded.{' '}
          <button type="button" className="link" onClick={() => setParam('page', '')}>
            Go to the first page
          </button>
        </p>
      )}
      <table className="runs-table">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Workflow</th>
            <th scope="col">Status</th>
            <th scope="col">Current step</th>
            <th scope="col">Started</th>
            <th scope="col">Finished</th>
          </tr>
        </thead>
        <tbody>
          {data?.data.map((r) => (
            <tr key={r.id}>
              <td>
                <Link to={`/runs/${r.id}`}>{r.id}</Link>
              </td>
              <td>{names.get(r.workflowId) ?? r.workflowId}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td>{r.currentStep ?? '—'}</td>
              <td>{formatTime(r.startedAt)}</td>
              <td>{formatTime(r.finishedAt)}</td>
            </tr>
          ))}
          {data && data.data.length === 0 && (
            <tr>
              <td colSpan={6} className="hint">
                No runs match.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {data && (
        <Pager
          page={data.page}
          pageSize={data.pageSize}
          total={data.total}
          onPage={(p) => setParam('page', String(p))}
          label="Run pages"
        />
      )}
    </section>
  );
}
