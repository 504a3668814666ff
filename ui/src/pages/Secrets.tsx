// Secrets (admins only): the list (names, allowed hosts, the workflows that
// name them; never a value), a form to set one, and removing one. A value
// goes to the host once and is never read back.

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { secrets as secretsApi } from '../api/api';
import { messageOf } from '../api/client';
import { NEEDS } from '../api/roles';
import type { SecretList, SecretView } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { FieldErrorList, useFieldErrors } from '../components/FieldErrors';
import { ListTable } from '../components/ListTable';
import { NeedsRole } from '../components/NeedsRole';
import { Notices } from '../components/Notices';
import { formatTime } from '../components/Status';

export function SecretsPage() {
  return (
    <NeedsRole need={NEEDS.listSecrets} title="Secrets">
      <Secrets />
    </NeedsRole>
  );
}

/** What the form is asked to show: a secret to replace. */
interface Preset {
  name: string;
  hosts: string[];
}

function Secrets() {
  const [list, setList] = useState<SecretList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<SecretView | null>(null);
  const [preset, setPreset] = useState<Preset | null>(null);

  const load = useCallback(() => {
    secretsApi
      .list()
      .then((r) => {
        setList(r);
        setError(null);
      })
      .catch((e) => setError(messageOf(e)));
  }, []);
  useEffect(load, [load]);

  return (
    <div>
      <h1>Secrets</h1>
      <Notices error={error} notice={notice} />
      <p className="hint">
        Workflows name a secret as <code>{'{{ secrets.NAME }}'}</code>; its value is sealed in the database and never
        shown again, here or in a run.
        {list?.keyFingerprint && (
          <>
            {' '}
            Sealed with the key of fingerprint <code>{list.keyFingerprint}</code>.
          </>
        )}
      </p>
      <SetForm
        preset={preset}
        known={list?.data.map((s) => s.name) ?? []}
        onSaved={(s, replaced) => {
          setNotice(`${replaced ? 'Replaced' : 'Saved'} secret ${s.name}.`);
          setPreset(null);
          load();
        }}
      />
      <section aria-labelledby="secrets-list-title">
        <h2 id="secrets-list-title">Secrets</h2>
        <ListTable
          columns={['Name', 'Allowed hosts', 'Used by', 'Updated', 'Actions']}
          rows={list?.data}
          empty="No secrets yet."
        >
          {(s) => (
            <tr key={s.name}>
              <td>
                <strong className="mono">{s.name}</strong>
              </td>
              <td>
                {s.allowedHosts.length ? (
                  <ul className="plain">
                    {s.allowedHosts.map((h) => (
                      <li key={h} className="mono">
                        {h}
                      </li>
                    ))}
                  </ul>
                ) : (
                  <span className="hint">none</span>
                )}
              </td>
              <td>
                {s.usedBy.length ? (
                  <ul className="plain">
                    {s.usedBy.map((w) => (
                      <li key={w.id}>
                        <Link to={`/workflows/${encodeURIComponent(w.id)}`}>{w.name}</Link>
                      </li>
                    ))}
                  </ul>
                ) : (
                  <span className="hint">no workflow</span>
                )}
              </td>
              <td>{formatTime(s.updatedAt)}</td>
              <td>
                <div className="row-actions">
                  <button type="button" onClick={() => setPreset({ name: s.name, hosts: s.allowedHosts })}>
                    Replace {s.name}
                  </button>
                  <button type="button" className="danger" onClick={() => setConfirm(s)}>
                    Remove {s.name}
                  </button>
                </div>
              </td>
            </tr>
          )}
        </ListTable>
      </section>
      {confirm && (
        <ConfirmDialog
          title={`Remove secret ${confirm.name}?`}
          body={
            confirm.usedBy.length
              ? `${confirm.usedBy.map((w) => w.name).join(', ')} ${confirm.usedBy.length === 1 ? 'names' : 'name'} it: their steps and hooks that need it will fail.`
              : 'No workflow names it.'
          }
          action="Remove"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await secretsApi.remove(confirm.name);
            setNotice(`Removed secret ${confirm.name}.`);
            setConfirm(null);
            load();
          }}
        />
      )}
    </div>
  );
}

/** Host names typed with commas, spaces or line breaks between them. */
function parseHosts(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

function SetForm({
  preset,
  known,
  onSaved,
}: {
  preset: Preset | null;
  /** Names already set: saving one of them replaces it. */
  known: string[];
  onSaved: (s: SecretView, replaced: boolean) => void;
}) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [hosts, setHosts] = useState('');
  const fields = useFieldErrors();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const valueInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!preset) return;
    setName(preset.name);
    setHosts(preset.hosts.join(', '));
    setValue('');
    fields.set([]);
    setError(null);
    valueInput.current?.focus();
  }, [preset, fields.set]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    fields.set([]);
    setError(null);
    setBusy(true);
    try {
      const trimmed = name.trim();
      const saved = await secretsApi.set(trimmed, value, parseHosts(hosts));
      setName('');
      setValue('');
      setHosts('');
      onSaved(saved, known.includes(trimmed));
    } catch (err) {
      // Placed on their fields, the details need only a pointer here.
      setError(fields.take(err) ? 'see the fields marked below' : messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="set-secret-title" className="card">
      <h2 id="set-secret-title">Set a secret</h2>
      <form onSubmit={submit} aria-labelledby="set-secret-title" autoComplete="off">
        <div className="row">
          <div className="field">
            <label htmlFor="secret-name">Name</label>
            <input
              id="secret-name"
              className="mono"
              value={name}
              required
              spellCheck={false}
              {...fields.aria('name', 'secret-name-errors', 'secret-name-help')}
              onChange={(e) => setName(e.target.value)}
            />
            <p className="hint" id="secret-name-help">
              Letters, digits and _, e.g. STRIPE_KEY. An existing name is replaced.
            </p>
            <FieldErrorList state={fields} field="name" id="secret-name-errors" />
          </div>
          <div className="field grow">
            <label htmlFor="secret-value">Value</label>
            <input
              id="secret-value"
              ref={valueInput}
              type="password"
              autoComplete="new-password"
              value={value}
              required
              {...fields.aria('value', 'secret-value-errors', 'secret-value-help')}
              onChange={(e) => setValue(e.target.value)}
            />
            <p className="hint" id="secret-value-help">
              Write-only: it is not shown again.
            </p>
            <FieldErrorList state={fields} field="value" id="secret-value-errors" />
          </div>
        </div>
        <div className="field">
          <label htmlFor="secret-hosts">Allowed hosts</label>
          <input
            id="secret-hosts"
            className="mono"
            value={hosts}
            spellCheck={false}
            placeholder="api.example.com, *.example.org"
            {...fields.aria('allowedHosts', 'secret-hosts-errors', 'secret-hosts-help')}
            onChange={(e) => setHosts(e.target.value)}
          />
          <p className="hint" id="secret-hosts-help">
            Hosts a step may send it to, separated by commas or spaces; none: no step may send it anywhere (a hook or
            the mail sender may still use it).
          </p>
          <FieldErrorList state={fields} field="allowedHosts" id="secret-hosts-errors" />
        </div>
        {error && (
          <p className="field-errors" role="alert">
            Not saved: {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || !name.trim() || !value}>
          Save secret
        </button>
      </form>
    </section>
  );
}
