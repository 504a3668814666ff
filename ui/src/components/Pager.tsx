export function Pager({
  page,
  pageSize,
  total,
  onPage,
  label,
}: {
  page: number;
  pageSize: number;
  total: number;
  onPage: (p: number) => void;
  label: string;
}) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" onClick={() => onPage(page - 1)} disabled={page <= 1}>
        Previous page
      </button>
      <span>
        Page {page} of {pages} ({total.toLocaleString('en')} in all)
      </span>
      <button type="button" onClick={() => onPage(page + 1)} disabled={page >= pages}>
        Next page
      </button>
    </nav>
  );
}

/**
 * Paging by a cursor, for a list newest first that has no page numbers: the
 * newest entries, or those older than the last one shown.
 */
export function CursorPager({
  label,
  atNewest,
  next,
  onNewest,
  onOlder,
}: {
  label: string;
  atNewest: boolean;
  /** The cursor of the older entries; null when there are none. */
  next: number | null;
  onNewest: () => void;
  onOlder: (before: number) => void;
}) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" onClick={onNewest} disabled={atNewest}>
        Newest
      </button>
      <button type="button" onClick={() => next !== null && onOlder(next)} disabled={next === null}>
        Older
      </button>
    </nav>
  );
}
