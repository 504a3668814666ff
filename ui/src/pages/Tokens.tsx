// API tokens (admins only): the list, a form to create one (its value is
// shown once), and revoking one.

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { tokens as tokensApi } from '../api/api';
import { ApiError, messageOf } from '../api/client';
import { NEEDS, ROLES, useCan, type Role } from '../api/roles';
import type { CreatedToken, FieldError, TokenView } from '../api/types';
import { formatTime } from '../components/Status';
import { ConfirmDialog } from './Plugins';
import { Notices } from '../components/Notices';

const ROLE_HELP: Record<Role, string> = {
  viewer: 'reads everything',
  operator: 'viewer, and runs, cancels and retries workflows',
  editor: 'operator, and edits workflows and email templates',
  admin: 'everything, with plugins and tokens',
};

export function TokensPage() {
  const { allowed, role } = useCan(NEEDS.listTokens);
  const [list, setList] = useState<TokenView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [confirm, setConfirm] = useState<TokenView | null>(null);

  const load = useCallback(() => {
    tokensApi
      .list()
      .then((data) => {
        setList(data);
        setError(null);
      })
      .catch((e) => setError(messageOf(e)));
  }, []);
  useEffect(() => {
    if (allowed) load();
  }, [allowed, load]);

  if (!allowed) {
    return (
      <section aria-labelledby="tokens-title">
        <h1 id="tokens-title">Tokens</h1>
        <p className="notice is-error" role="alert">
          Needs the {NEEDS.listTokens} role{role ? ` (you are ${role})` : ''}.
        </p>
      </section>
    );
  }

  return (
    <div>
      <h1>Tokens</h1>
      <Notices error={error} notice={notice} />
      <CreateForm
        onCreated={(t) => {
          setCreated(t);
          setNotice(null);
          load();
        }}
      />
      {created && (
        <section className="card new-token" aria-labelledby="new-token-title">
          <h2 id="new-token-title">Token {created.name} created</h2>
          <div className="field">
            <label htmlFor="new-token-value">Value of token {created.name}</label>
            <input
              id="new-token-value"
              readOnly
              value={created.token}
              aria-describedby="new-token-note"
              onFocus={(e) => e.currentTarget.select()}
            />
            <p className="hint" id="new-token-note">
              Copy it now: it will not be shown again.
            </p>
          </div>
          <button type="button" className="secondary" onClick={() => setCreated(null)}>
            Done
          </button>
        </section>
      )}
      <section aria-labelledby="tokens-list-title">
        <h2 id="tokens-list-title">Tokens</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list?.map((t) => (
              <tr key={t.id}>
                <td>
                  <strong>{t.name}</strong>
                </td>
                <td>
                  <span className="badge">{t.role}</span>
                </td>
                <td>{formatTime(t.createdAt)}</td>
                <td>{t.lastUsedAt ? formatTime(t.lastUsedAt) : 'never'}</td>
                <td>{t.expiresAt ? formatTime(t.expiresAt) : 'never'}</td>
                <td>
                  <button type="button" className="danger" onClick={() => setConfirm(t)}>
                    Revoke {t.name}
                  </button>
                </td>
              </tr>
            ))}
            {list && list.length === 0 && (
              <tr>
                <td colSpan={6} className="hint">
                  No tokens yet (the host's admin token is not listed).
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      {confirm && (
        <ConfirmDialog
          title={`Revoke token ${confirm.name}?`}
          body="Requests with it are refused at once, and sessions signed in with it end."
          action="Revoke"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await tokensApi.revoke(confirm.id);
            if (created?.id === confirm.id) setCreated(null);
            setNotice(`Revoked ${confirm.name}.`);
            setConfirm(null);
            load();
          }}
        />
      )}
    </div>
  );
}

function CreateForm({ onCreated }: { onCreated: (t: CreatedToken) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [expires, setExpires] = useState('');
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors([]);
    setError(null);
    let expiresAt: string | undefined;
    if (expires) {
      const d = new Date(expires);
      if (Number.isNaN(d.getTime())) {
        setErrors([{ field: 'expiresAt', message: 'not a date and time' }]);
        return;
      }
      expiresAt = d.toISOString();
    }
    setBusy(true);
    try {
      const t = await tokensApi.create({ name: name.trim(), role, expiresAt });
      setName('');
      setExpires('');
      onCreated(t);
    } catch (err) {
      if (err instanceof ApiError && Array.isArray(err.details)) setErrors(err.details as FieldError[]);
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const fieldErrors = (f: string) => errors.filter((e) => e.field === f);
  const errorsOf = (f: string, id: string) =>
    fieldErrors(f).length ? (
      <ul className="field-errors" id={id}>
        {fieldErrors(f).map((e, i) => (
          <li key={i}>{e.message}</li>
        ))}
      </ul>
    ) : null;

  return (
    <section aria-labelledby="create-token-title" className="card">
      <h2 id="create-token-title">Create a token</h2>
      <form onSubmit={submit} aria-labelledby="create-token-title">
        <div className="row">
          <div className="field grow">
            <label htmlFor="token-name">Name</label>
            <input
              id="token-name"
              value={name}
              required
              aria-invalid={fieldErrors('name').length > 0 || undefined}
              aria-describedby={fieldErrors('name').length ? 'token-name-errors' : undefined}
              onChange={(e) => setName(e.target.value)}
            />
            {errorsOf('name', 'token-name-errors')}
          </div>
          <div className="field">
            <label htmlFor="token-role">Role</label>
            <select
              id="token-role"
              value={role}
              aria-describedby="token-role-help"
              onChange={(e) => setRole(e.target.value as Role)}
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
            <p className="hint" id="token-role-help">
              {role}: {ROLE_HELP[role]}.
            </p>
            {errorsOf('role', 'token-role-errors')}
          </div>
          <div className="field">
            <label htmlFor="token-expires">Expires (optional)</label>
            <input
              id="token-expires"
              type="datetime-local"
              value={expires}
              aria-describedby={`token-expires-help${fieldErrors('expiresAt').length ? ' token-expires-errors' : ''}`}
              onChange={(e) => setExpires(e.target.value)}
            />
            <p className="hint" id="token-expires-help">
              Local time; empty: never expires.
            </p>
            {errorsOf('expiresAt', 'token-expires-errors')}
          </div>
        </div>
        {error && (
          <p className="field-errors" role="alert">
            Not created: {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          Create token
        </button>
      </form>
    </section>
  );
}
