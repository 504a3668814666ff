// Buttons and notes for actions the signed-in token's role may not allow. A
// refused action stays focusable (`aria-disabled`), and a note says which role
// it needs, referenced by `aria-describedby`.

import { useId, type ButtonHTMLAttributes, type ReactNode } from 'react';
import { Link } from 'react-router';
import { useCan, type Role } from '../api/roles';

/** The note "needs the X role" when the role is too weak; nothing otherwise. */
export function RoleNote({ need, id, className }: { need: Role; id: string; className?: string }) {
  const { allowed, role, reason } = useCan(need);
  if (allowed) return null;
  return (
    <span id={id} className={`role-note${className ? ` ${className}` : ''}`}>
      {capitalize(reason)}
      {role ? ` (you are ${role})` : ''}.
    </span>
  );
}

type Props = ButtonHTMLAttributes<HTMLButtonElement> & {
  need: Role;
  /** The id of a shared RoleNote; without it the button shows its own note. */
  noteId?: string;
  children: ReactNode;
};

/** A button refused (but focusable, with the reason) below the role `need`. */
export function RoleButton({ need, noteId, children, onClick, disabled, ...rest }: Props) {
  const { allowed } = useCan(need);
  const own = useId();
  if (allowed) {
    return (
      <button {...rest} disabled={disabled} onClick={onClick}>
        {children}
      </button>
    );
  }
  const described = [rest['aria-describedby'], noteId ?? own].filter(Boolean).join(' ');
  const button = (
    <button
      {...rest}
      type={rest.type === 'submit' ? 'button' : (rest.type ?? 'button')}
      aria-disabled="true"
      aria-describedby={described}
      data-needs-role={need}
      onClick={(e) => e.preventDefault()}
    >
      {children}
    </button>
  );
  if (noteId) return button;
  return (
    <span className="role-gated">
      {button}
      <RoleNote need={need} id={own} />
    </span>
  );
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A link to a page whose action needs `need`; below it, a refused button. */
export function RoleLink({ need, to, className, children }: { need: Role; to: string; className?: string; children: ReactNode }) {
  const { allowed } = useCan(need);
  if (allowed) {
    return (
      <Link className={className} to={to}>
        {children}
      </Link>
    );
  }
  return (
    <RoleButton need={need} type="button" className={className?.replace(/\bbutton\b/, '').trim() || undefined}>
      {children}
    </RoleButton>
  );
}
