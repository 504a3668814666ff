// The audit log (admins only): every change made through the API, newest
// first, filtered by action, paged toward older entries by the host's cursor.

import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { audit as auditApi } from '../api/api';
import { messageOf } from '../api/client';
import { NEEDS } from '../api/roles';
import { AUDIT_ACTIONS, type AuditEntry, type AuditPage, type Json } from '../api/types';
import { ListTable } from '../components/ListTable';
import { NeedsRole } from '../components/NeedsRole';
import { Notices } from '../components/Notices';
import { CursorPager } from '../components/Pager';
import { formatTime } from '../components/Status';

const PAGE_SIZE = 50;

export function AuditPage() {
  return (
    <NeedsRole need={NEEDS.listAudit} title="Audit log">
      <Audit />
    </NeedsRole>
  );
}

function Audit() {
  const [params, setParams] = useSearchParams();
  const action = params.get('action') ?? '';
  const beforeText = params.get('before');
  const before = beforeText && /^\d+$/.test(beforeText) ? Number(beforeText) : undefined;
  const [page, setPage] = useState<AuditPage | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    auditApi
      .list({ action: action || undefined, before, limit: PAGE_SIZE })
      .then((r) => {
        if (!live) return;
        setPage(r);
        setError(null);
      })
      .catch((e) => live && setError(messageOf(e)));
    return () => {
      live = false;
    };
  }, [action, before]);

  const go = (next: { action?: string; before?: number }) => {
    const q = new URLSearchParams();
    const a = next.action ?? action;
    if (a) q.set('action', a);
    if (next.before !== undefined) q.set('before', String(next.before));
    setParams(q);
  };
  // A filter known to the host but missing from the list still shows.
  const known: readonly string[] = AUDIT_ACTIONS;
  const actions = action && !known.includes(action) ? [...known, action] : known;

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <p className="hint">Every change made through the API, by whom and with which role, newest first.</p>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter the audit log">
        <div className="field">
          <label htmlFor="filter-action">Action</label>
          <select id="filter-action" value={action} onChange={(e) => go({ action: e.target.value })}>
            <option value="">all actions</option>
            {actions.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
      </form>
      <Notices error={error} />
      <ListTable
        className="audit-table"
        columns={['Time', 'Who', 'Action', 'Target', 'Detail']}
        rows={page?.data}
        empty={before !== undefined ? 'No older entries.' : action ? `No ${action} entries.` : 'Nothing changed yet.'}
      >
        {(e) => (
          <tr key={e.seq}>
            <td>
              <time dateTime={e.at}>{formatTime(e.at)}</time>
            </td>
            <td>
              {e.actor} <span className="badge">{e.role}</span>
            </td>
            <td>
              <code>{e.action}</code>
            </td>
            <td>
              <Target entry={e} />
            </td>
            <td>
              <Detail value={e.detail} />
            </td>
          </tr>
        )}
      </ListTable>
      {page && (
        <CursorPager
          label="Audit log pages"
          atNewest={before === undefined}
          next={page.next}
          onNewest={() => go({})}
          onOlder={(b) => go({ before: b })}
        />
      )}
    </section>
  );
}

/** The target, linked when it is a workflow or a run (neither is ever deleted). */
function Target({ entry }: { entry: AuditEntry }) {
  const t = entry.target;
  if (!t) return <span className="hint">—</span>;
  const kind = entry.action.split('.')[0];
  if (kind === 'workflow') return <Link to={`/workflows/${encodeURIComponent(t)}`}>{t}</Link>;
  if (kind === 'run') return <Link to={`/runs/${encodeURIComponent(t)}`}>{t}</Link>;
  return <span className="mono">{t}</span>;
}

function Detail({ value }: { value: Json | null }) {
  if (value === null || value === undefined) return <span className="hint">—</span>;
  if (typeof value === 'object' && !Array.isArray(value)) {
    return (
      <ul className="plain">
        {Object.entries(value).map(([k, v]) => (
          <li key={k}>
            {k}: {typeof v === 'string' ? v : JSON.stringify(v)}
          </li>
        ))}
      </ul>
    );
  }
  return <span className="mono">{JSON.stringify(value)}</span>;
}
