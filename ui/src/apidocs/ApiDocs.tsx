// The API page: the host's own OpenAPI document (`GET /api/openapi.json`)
// as a reference, operations grouped by tag, a filter kept in the address
// (`?q=`), and a link per operation (`#operationId`) that opens it.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { apiDocs } from '../api/api';
import { messageOf } from '../api/client';
import type { OpenApiDoc } from '../api/openapi';
import { Notices } from '../components/Notices';
import { filterGroups, groupByTag, matches, operationsOf } from './operations';
import { OperationEntry } from './Operation';
import { Prose } from './Prose';

const tagId = (name: string) => `tag-${name.replace(/[^A-Za-z0-9_-]+/g, '-')}`;

export default function ApiDocs() {
  const [doc, setDoc] = useState<OpenApiDoc | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    apiDocs
      .document()
      .then((d) => live && setDoc(d ?? {}))
      .catch((e) => live && setError(`Could not load the API document: ${messageOf(e)}`));
    return () => {
      live = false;
    };
  }, []);

  const location = useLocation();
  const navigate = useNavigate();
  const filter = new URLSearchParams(location.search).get('q') ?? '';
  const setFilter = (q: string) =>
    navigate({ search: q ? `?${new URLSearchParams({ q })}` : '', hash: location.hash }, { replace: true });

  const ops = useMemo(() => (doc ? operationsOf(doc) : []), [doc]);
  const groups = useMemo(() => (doc ? groupByTag(doc, ops) : []), [doc, ops]);
  const shown = useMemo(() => filterGroups(groups, filter), [groups, filter]);
  const shownCount = shown.reduce((n, g) => n + g.operations.length, 0);

  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (anchor: string, isOpen: boolean) =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (isOpen) next.add(anchor);
      else next.delete(anchor);
      return next;
    });

  // A `#fragment` naming an operation opens it (showing it if the filter
  // hides it); once the page has rendered, the fragment's element is
  // scrolled to (the browser could not: the document came later).
  const scrollTo = useRef<string | null>(null);
  const hash = decodeURIComponent(location.hash.slice(1));
  useEffect(() => {
    if (!hash || !doc) return;
    const op = ops.find((o) => o.anchor === hash);
    if (op) {
      setOpen((prev) => (prev.has(op.anchor) ? prev : new Set(prev).add(op.anchor)));
      if (!matches(op, filter)) navigate({ search: '', hash: location.hash }, { replace: true });
    }
    scrollTo.current = hash;
    // Only a new fragment or a newly loaded document moves the page.
  }, [hash, doc]);
  useLayoutEffect(() => {
    const id = scrollTo.current;
    if (!id) return;
    const el = document.getElementById(id);
    if (el) {
      scrollTo.current = null;
      el.scrollIntoView({ block: 'start' });
    }
  });

  const info = doc?.info ?? {};
  return (
    <section aria-labelledby="api-title" className="api-docs">
      <div className="page-head">
        <h1 id="api-title">API</h1>
        {doc && (
          <span className="hint">
            {info.title ?? 'API'} {info.version} · OpenAPI {doc.openapi ?? '?'} ·{' '}
            <a href="/api/openapi.json">openapi.json</a>
          </span>
        )}
      </div>
      <Notices error={error} />
      {!doc && !error && <p className="hint">Loading the API document…</p>}
      {doc && (
        <>
          <Prose text={info.description} />
          <form className="filters api-filter" role="search" aria-label="Filter operations" onSubmit={(e) => e.preventDefault()}>
            <div className="field">
              <label htmlFor="api-filter">Filter operations</label>
              <input
                id="api-filter"
                type="search"
                value={filter}
                placeholder="path or summary, e.g. trigger"
                onChange={(e) => setFilter(e.target.value)}
              />
            </div>
            <div className="actions">
              <button
                type="button"
                className="secondary"
                onClick={() => setOpen(new Set(shown.flatMap((g) => g.operations.map((o) => o.anchor))))}
              >
                Open all shown
              </button>
              <button type="button" className="secondary" onClick={() => setOpen(new Set())}>
                Close all
              </button>
            </div>
          </form>
          <p className="hint" role="status">
            {filter ? `${shownCount} of ${ops.length} operations match.` : `${ops.length} operations.`}
          </p>
          <div className="api-layout">
            <nav aria-label="API sections" className="api-toc">
              <ul className="plain">
                {shown.map((g) => (
                  <li key={g.name}>
                    <a href={`#${tagId(g.name)}`}>{g.name}</a> <span className="hint">{g.operations.length}</span>
                  </li>
                ))}
              </ul>
            </nav>
            <div className="api-groups">
              {shown.length === 0 && <p className="hint">No operation matches “{filter}”.</p>}
              {shown.map((g) => (
                <section key={g.name} id={tagId(g.name)} aria-labelledby={`${tagId(g.name)}-title`} className="api-group">
                  <h2 id={`${tagId(g.name)}-title`}>{g.name}</h2>
                  <Prose text={g.description} />
                  {g.operations.map((op) => (
                    <OperationEntry
                      key={op.anchor}
                      doc={doc}
                      op={op}
                      open={open.has(op.anchor)}
                      onToggle={(isOpen) => toggle(op.anchor, isOpen)}
                    />
                  ))}
                </section>
              ))}
            </div>
          </div>
        </>
      )}
    </section>
  );
}
