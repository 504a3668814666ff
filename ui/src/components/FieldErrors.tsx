// The field errors of a 422 (`error.details[{field, message}]`) shown next to
// the form field they name, referenced by its `aria-describedby`.

import { useCallback, useState } from 'react';
import { ApiError } from '../api/client';
import type { FieldError } from '../api/types';

export interface FieldErrorsState {
  errors: FieldError[];
  set: (errors: FieldError[]) => void;
  /** Takes the details of a 422; whether there were any. */
  take: (err: unknown) => boolean;
  /** The errors of `field`, and of its items (`field[2]`). */
  of: (field: string) => FieldError[];
  /** Props that mark an input invalid and point it at its errors. */
  aria: (field: string, id: string, describedBy?: string) => { 'aria-invalid'?: true; 'aria-describedby'?: string };
}

export function useFieldErrors(): FieldErrorsState {
  const [errors, set] = useState<FieldError[]>([]);
  const of = useCallback(
    (field: string) => errors.filter((e) => e.field === field || e.field.startsWith(`${field}[`)),
    [errors],
  );
  const take = useCallback((err: unknown) => {
    const details = err instanceof ApiError && Array.isArray(err.details) ? (err.details as FieldError[]) : [];
    set(details);
    return details.length > 0;
  }, []);
  const aria = useCallback(
    (field: string, id: string, describedBy?: string) => {
      const bad = of(field).length > 0;
      const ids = [describedBy, bad ? id : undefined].filter(Boolean).join(' ');
      return { 'aria-invalid': bad ? (true as const) : undefined, 'aria-describedby': ids || undefined };
    },
    [of],
  );
  return { errors, set, take, of, aria };
}

/** The list of `field`'s errors, with the id its input refers to. */
export function FieldErrorList({ state, field, id }: { state: FieldErrorsState; field: string; id: string }) {
  const mine = state.of(field);
  if (!mine.length) return null;
  return (
    <ul className="field-errors" id={id}>
      {mine.map((e, i) => (
        <li key={i}>{e.message}</li>
      ))}
    </ul>
  );
}
