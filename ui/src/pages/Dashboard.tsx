// Workflows with their last run and today's figures, recent runs and
// notifications, the last two live from the host's event streams.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link } from 'react-router';
import { notifications as notificationsApi, runs as runsApi, workflows as workflowsApi } from '../api/api';
import { messageOf } from '../api/client';
import { runStreamUrl, useEventStream } from '../api/stream';
import type { NotificationView, Paged, RunView, WorkflowStats, WorkflowStatus, WorkflowView } from '../api/types';
import { WORKFLOW_STATUSES } from '../api/types';
import { Pager } from '../components/Pager';
import { RoleButton, RoleLink, RoleNote } from '../components/RoleButton';
import { NEEDS } from '../api/roles';
import { StatusBadge, formatTime, triggerLabel } from '../components/Status';
import { Notices } from '../components/Notices';

const RECENT = 10;

/** `fresh` over `base` (by id), newest first, RECENT at most. */
function newestRuns(fresh: RunView[], base: RunView[]): RunView[] {
  const ids = new Set(fresh.map((r) => r.id));
  return [...fresh, ...base.filter((r) => !ids.has(r.id))]
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1))
    .slice(0, RECENT);
}

/** The list with `run` as its workflow's last run, when it is that or newer. */
function withRun(list: Paged<WorkflowView>, run: RunView): Paged<WorkflowView> {
  return {
    ...list,
    data: list.data.map((w) =>
      w.id === run.workflowId && (!w.lastRun || w.lastRun.id === run.id || w.lastRun.startedAt <= run.startedAt)
        ? { ...w, lastRun: { id: run.id, status: run.status, startedAt: run.startedAt } }
        : w,
    ),
  };
}

function localMidnight(): string {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.toISOString();
}

export function Dashboard() {
  const [status, setStatus] = useState<WorkflowStatus | ''>('');
  const [page, setPage] = useState(1);
  const [list, setList] = useState<Paged<WorkflowView> | null>(null);
  const [stats, setStats] = useState<Map<string, WorkflowStats>>(new Map());
  const [recent, setRecent] = useState<RunView[]>([]);
  const [notes, setNotes] = useState<NotificationView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const statsTimer = useRef<number | undefined>(undefined);

  const listInFlight = useRef<RunView[] | null>(null);
  const loadList = useCallback(() => {
    const since: RunView[] = [];
    listInFlight.current = since;
    workflowsApi
      .list({ status, page, pageSize: 25 })
      .then((r) => setList(since.reduce(withRun, r)))
      .catch((e) => setError(messageOf(e)))
      .finally(() => {
        if (listInFlight.current === since) listInFlight.current = null;
      });
  }, [status, page]);
  useEffect(loadList, [loadList]);

  const loadStats = useCallback(() => {
    workflowsApi
      .stats(localMidnight())
      .then((r) => setStats(new Map(r.data.map((s) => [s.workflowId, s]))))
      .catch(() => setStats(new Map()));
  }, []);

  // Run events that came while a fetch of recent runs was in flight: newer
  // than what it answers, so applied again on top of it.
  const inFlight = useRef<Map<string, RunView> | null>(null);
  const loadRecent = useCallback(() => {
    const since = new Map<string, RunView>();
    inFlight.current = since;
    runsApi
      .list({ pageSize: RECENT })
      .then((r) => setRecent(newestRuns([...since.values()], r.data)))
      .catch((e) => setError(messageOf(e)))
      .finally(() => {
        if (inFlight.current === since) inFlight.current = null;
      });
  }, []);
  const loadNotes = useCallback(() => {
    notificationsApi
      .list(true)
      .then((r) =>
        setNotes((prev) => {
          // Union with what the stream brought meanwhile.
          const byId = new Map(r.data.map((n) => [n.id, n]));
          for (const n of prev) if (!byId.has(n.id)) byId.set(n.id, n);
          return [...byId.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).slice(0, 20);
        }),
      )
      .catch(() => {});
  }, []);
  useEffect(() => {
    loadStats();
    loadRecent();
    loadNotes();
    return () => window.clearTimeout(statsTimer.current);
  }, [loadStats, loadRecent, loadNotes]);

  useEventStream<RunView>(runStreamUrl(), 'run', (run) => {
    inFlight.current?.set(run.id, run);
    setRecent((prev) => newestRuns([run], prev));
    listInFlight.current?.push(run);
    setList((prev) => prev && withRun(prev, run));
    window.clearTimeout(statsTimer.current);
    statsTimer.current = window.setTimeout(loadStats, 500);
  }, () => {
    loadRecent();
    loadList();
    loadStats();
  });

  useEventStream<NotificationView>('/api/notifications/stream', 'notification', (n) => {
    setNotes((prev) => [n, ...prev.filter((x) => x.id !== n.id)].slice(0, 20));
  }, loadNotes);

  const names = useMemo(() => new Map((list?.data ?? []).map((w) => [w.id, w.name])), [list]);

  return (
    <div className="dashboard">
      <div className="page-head">
        <h1>Dashboard</h1>
        <RoleLink className="button primary" to="/workflows/new" need={NEEDS.createWorkflow}>
          New workflow
        </RoleLink>
      </div>
      <Notices error={error} />
      <section aria-labelledby="workflows-title">
        <div className="section-head">
          <h2 id="workflows-title">Workflows</h2>
          <label>
            Status{' '}
            <select
              value={status}
              onChange={(e) => {
                setStatus(e.target.value as WorkflowStatus | '');
                setPage(1);
              }}
            >
              <option value="">all</option>
              {WORKFLOW_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        </div>
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Trigger</th>
              <th scope="col">Last run</th>
              <th scope="col" className="num">
                Runs today
              </th>
              <th scope="col" className="num">
                Failures today
              </th>
            </tr>
          </thead>
          <tbody>
            {list?.data.map((w) => {
              const s = stats.get(w.id);
              return (
                <tr key={w.id}>
                  <td>
                    <Link to={`/workflows/${w.id}`}>{w.name}</Link>
                    {w.cronError && <div className="field-errors">{w.cronError}</div>}
                  </td>
                  <td>
                    <StatusBadge status={w.status} />
                  </td>
                  <td>
                    {triggerLabel(w.trigger)}
                    {w.nextFireAt && <div className="hint">next {formatTime(w.nextFireAt)}</div>}
                  </td>
                  <td>
                    {w.lastRun ? (
                      <Link to={`/runs/${w.lastRun.id}`}>
                        <StatusBadge status={w.lastRun.status} /> {formatTime(w.lastRun.startedAt)}
                      </Link>
                    ) : (
                      <span className="hint">never</span>
                    )}
                  </td>
                  <td className="num">{s?.runs ?? 0}</td>
                  <td className={`num${s?.failures ? ' has-failures' : ''}`}>{s?.failures ?? 0}</td>
                </tr>
              );
            })}
            {list && list.data.length === 0 && (
              <tr>
                <td colSpan={6} className="hint">
                  No workflows yet. <Link to="/workflows/new">Create one</Link>.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        {list && list.total > list.pageSize && (
          <Pager page={list.page} pageSize={list.pageSize} total={list.total} onPage={setPage} label="Workflow pages" />
        )}
      </section>
      <div className="two-columns">
        <section aria-labelledby="recent-title">
          <div className="section-head">
            <h2 id="recent-title">Recent runs</h2>
            <Link to="/runs">All runs</Link>
          </div>
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Workflow</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {recent.map((r) => (
                <tr key={r.id}>
                  <td>
                    <Link to={`/runs/${r.id}`}>{r.id.slice(0, 12)}</Link>
                  </td>
                  <td>{names.get(r.workflowId) ?? r.workflowId.slice(0, 12)}</td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{formatTime(r.startedAt)}</td>
                </tr>
              ))}
              {recent.length === 0 && (
                <tr>
                  <td colSpan={4} className="hint">
                    No runs yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </section>
        <section aria-labelledby="notes-title">
          <h2 id="notes-title">Notifications</h2>
          {notes.some((n) => !n.read) && <RoleNote need={NEEDS.readNotification} id="notes-role-note" className="hint" />}
          <ul className="notifications" aria-live="polite">
            {notes.map((n) => (
              <li key={n.id} className={`level-${n.level}${n.read ? ' is-read' : ''}`}>
                <div className="note-title">
                  <strong>{n.title}</strong> <span className="hint">{formatTime(n.createdAt)}</span>
                </div>
                {n.body && <p>{n.body}</p>}
                <div className="note-actions">
                  {n.runId && <Link to={`/runs/${n.runId}`}>Open run</Link>}
                  {!n.read && (
                    <RoleButton
                      type="button"
                      className="link"
                      need={NEEDS.readNotification}
                      noteId="notes-role-note"
                      onClick={() =>
                        notificationsApi
                          .read(n.id)
                          .then((u) => setNotes((prev) => prev.map((x) => (x.id === u.id ? u : x))))
                          .catch(() => {})
                      }
                    >
                      Mark “{n.title}” read
                    </RoleButton>
                  )}
                </div>
              </li>
            ))}
            {notes.length === 0 && <li className="hint">No unread notifications.</li>}
          </ul>
        </section>
      </div>
    </div>
  );
}
