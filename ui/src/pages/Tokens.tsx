// API tokens (admins only): the list, a form to create one (its value is
// shown once), and revoking one.

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { tokens as tokensApi } from '../api/api';
import { messageOf } from '../api/client';
import { NEEDS, ROLES, type Role } from '../api/roles';
import type { CreatedToken, TokenView } from '../api/types';
import { formatTime } from '../components/Status';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Notices } from '../components/Notices';
import { NeedsRole } from '../components/NeedsRole';
import { ListTable } from '../components/ListTable';
import { FieldErrorList, useFieldErrors } from '../components/FieldErrors';

const ROLE_HELP: Record<Role, string> = {
  viewer: 'reads everything',
  operator: 'viewer, and runs, cancels and retries workflows',
  editor: 'operator, and edits workflows and email templates',
  admin: 'everything, with plugins, tokens, secrets and the audit log',
};

export function TokensPage() {
  return (
    <NeedsRole need={NEEDS.listTokens} title="Tokens">
      <Tokens />
    </NeedsRole>
  );
}

function Tokens() {
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
  useEffect(load, [load]);

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
        <ListTable
          columns={['Name', 'Role', 'Created', 'Last used', 'Expires', 'Actions']}
          rows={list}
          empty="No tokens yet (the host's admin token is not listed)."
        >
          {(t) => (
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
          )}
        </ListTable>
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
  const fields = useFieldErrors();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    fields.set([]);
    setError(null);
    let expiresAt: string | undefined;
    if (expires) {
      const d = new Date(expires);
      if (Number.isNaN(d.getTime())) {
        fields.set([{ field: 'expiresAt', message: 'not a date and time' }]);
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
      fields.take(err);
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
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
              {...fields.aria('name', 'token-name-errors')}
              onChange={(e) => setName(e.target.value)}
            />
            <FieldErrorList state={fields} field="name" id="token-name-errors" />
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
            <FieldErrorList state={fields} field="role" id="token-role-errors" />
          </div>
          <div className="field">
            <label htmlFor="token-expires">Expires (optional)</label>
            <input
              id="token-expires"
              type="datetime-local"
              value={expires}
              {...fields.aria('expiresAt', 'token-expires-errors', 'token-expires-help')}
              onChange={(e) => setExpires(e.target.value)}
            />
            <p className="hint" id="token-expires-help">
              Local time; empty: never expires.
            </p>
            <FieldErrorList state={fields} field="expiresAt" id="token-expires-errors" />
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
