// A page only some roles may open: below the role it needs, the page says so
// (and which role the token has) instead of asking the host for a 403.

import type { ReactNode } from 'react';
import { useCan, type Role } from '../api/roles';

export function NeedsRole({ need, title, children }: { need: Role; title: string; children: ReactNode }) {
  const { allowed, role } = useCan(need);
  if (allowed) return <>{children}</>;
  return (
    <section aria-labelledby="refused-title">
      <h1 id="refused-title">{title}</h1>
      <p className="notice is-error" role="alert">
        Needs the {need} role{role ? ` (you are ${role})` : ''}.
      </p>
    </section>
  );
}
