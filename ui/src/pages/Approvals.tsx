// The approvals inbox: runs waiting at an approval step, oldest first, each
// with a comment and Approve / Reject. Live from the run stream: a new wait
// shows up, one decided elsewhere leaves.

import { useCallback, useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { approvals as approvalsApi } from '../api/api';
import { messageOf } from '../api/client';
import { NEEDS } from '../api/roles';
import { runStreamUrl, useEventStream } from '../api/stream';
import type { PendingApproval, RunView } from '../api/types';
import { ApprovalForm, decisionNotice } from '../components/ApprovalForm';
import { ListTable } from '../components/ListTable';
import { Notices } from '../components/Notices';
import { RoleNote } from '../components/RoleButton';
import { formatTime } from '../components/Status';

const LIMIT = 500;

/** One wait: a retried run waits again at the same step, since a new time. */
const keyOf = (a: PendingApproval) => `${a.runId}|${a.step}|${a.waitingSince}`;

export function ApprovalsPage() {
  const [list, setList] = useState<PendingApproval[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Rows the host answered 409 for, kept with its message after they leave the list.
  const [gone, setGone] = useState<Map<string, { item: PendingApproval; message: string }>>(new Map());
  // Decided here: hidden also from an answer fetched before the decision.
  const decided = useRef(new Set<string>());

  const issued = useRef(0);
  const load = useCallback(() => {
    const n = ++issued.current;
    approvalsApi
      .list(LIMIT)
      .then((data) => {
        if (n !== issued.current) return;
        setList(data);
        setError(null);
      })
      .catch((e) => n === issued.current && setError(messageOf(e)));
  }, []);
  useEffect(load, [load]);

  // Run events come in bursts: one reload for each burst.
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const listRef = useRef(list);
  listRef.current = list;
  useEventStream<RunView>(
    runStreamUrl(),
    'run',
    (run) => {
      if (run.status !== 'WAITING' && !listRef.current?.some((a) => a.runId === run.id)) return;
      if (timer.current !== undefined) return;
      timer.current = window.setTimeout(() => {
        timer.current = undefined;
        load();
      }, 200);
    },
    load,
  );

  const shown = list?.filter((a) => !decided.current.has(keyOf(a)));
  const listed = new Set(shown?.map(keyOf));
  const rows = shown && [...shown, ...[...gone.values()].filter((g) => !listed.has(keyOf(g.item))).map((g) => g.item)]
    .sort((a, b) => (a.waitingSince < b.waitingSince ? -1 : 1));

  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">Approvals</h1>
      <p className="hint">Runs waiting at an approval step, oldest first. The decision and the comment become the step's output.</p>
      <Notices error={error} notice={notice} />
      {rows && rows.length > 0 && <RoleNote need={NEEDS.decideApproval} id="approve-role-note" className="hint" />}
      <ListTable
        className="approvals-table"
        columns={['Workflow', 'Run', 'Step', 'Message', 'Waiting since', 'Expires', 'Decision']}
        rows={rows}
        empty="Nothing is waiting for an approval."
      >
        {(a) => {
          const key = keyOf(a);
          const stale = listed.has(key) ? undefined : gone.get(key);
          return (
            <tr key={key}>
              <td>
                <Link to={`/workflows/${a.workflowId}`}>{a.workflowName}</Link>
              </td>
              <td>
                <Link to={`/runs/${a.runId}`}>{a.runId}</Link>
              </td>
              <td>
                <code>{a.step}</code>
              </td>
              <td className="approval-message">{a.message ?? <span className="hint">no message</span>}</td>
              <td>{formatTime(a.waitingSince)}</td>
              <td>{a.expiresAt ? formatTime(a.expiresAt) : 'never'}</td>
              <td>
                {stale ? (
                  <>
                    <p className="notice is-error" role="alert">
                      {stale.message}
                    </p>
                    <button
                      type="button"
                      className="link"
                      onClick={() => setGone((m) => {
                        const next = new Map(m);
                        next.delete(key);
                        return next;
                      })}
                    >
                      Dismiss<span className="visually-hidden"> run {a.runId}</span>
                    </button>
                  </>
                ) : (
                  <ApprovalForm
                    runId={a.runId}
                    step={a.step}
                    noteId="approve-role-note"
                    onDecided={(d) => {
                      decided.current.add(key);
                      setList((l) => l && l.filter((x) => keyOf(x) !== key));
                      setNotice(decisionNotice(d));
                    }}
                    onConflict={(message) => {
                      setGone((m) => new Map(m).set(key, { item: a, message }));
                      load();
                    }}
                  />
                )}
              </td>
            </tr>
          );
        }}
      </ListTable>
    </section>
  );
}
