// The host's errors of an editor field, announced as they appear.

import type { FieldError } from '../api/types';

export function FieldErrors({ errors }: { errors: FieldError[] }) {
  if (!errors.length) return null;
  return (
    <div role="alert">
      <ul className="field-errors">
        {errors.map((e, i) => (
          <li key={i}>{e.message}</li>
        ))}
      </ul>
    </div>
  );
}
