// A table of records: a header row of column names, one row per record, and
// a line saying why there are none.

import type { ReactNode } from 'react';

export function ListTable<T>({
  columns,
  rows,
  empty,
  className,
  children,
}: {
  columns: string[];
  /** Null while loading: neither rows nor the empty line. */
  rows: T[] | null | undefined;
  empty: ReactNode;
  className?: string;
  children: (row: T) => ReactNode;
}) {
  return (
    <table className={className}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows?.map(children)}
        {rows && rows.length === 0 && (
          <tr>
            <td colSpan={columns.length} className="hint">
              {empty}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
