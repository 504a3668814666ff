// Built-in and installed plugins; install a component with grants and limits;
// uninstall a version.

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { plugins as pluginsApi } from '../api/api';
import { messageOf } from '../api/client';
import type { PluginView, StepLimits } from '../api/types';
import { formatBytes, formatNumber } from '../components/Status';
import { RoleButton, RoleNote } from '../components/RoleButton';
import { NEEDS, useCan } from '../api/roles';
import { Notices } from '../components/Notices';
import { ConfirmDialog } from '../components/ConfirmDialog';

const LIMITS: { key: keyof StepLimits; label: string }[] = [
  { key: 'fuel', label: 'Fuel' },
  { key: 'memoryBytes', label: 'Memory (bytes)' },
  { key: 'timeMs', label: 'Time (ms)' },
  { key: 'outputBytes', label: 'Output (bytes)' },
];

export function PluginsPage() {
  const [list, setList] = useState<PluginView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<PluginView | null>(null);

  const load = useCallback(() => {
    pluginsApi
      .list()
      .then((r) => setList(r.data))
      .catch((e) => setError(messageOf(e)));
  }, []);
  useEffect(load, [load]);

  return (
    <div>
      <h1>Plugins</h1>
      <Notices error={error} notice={notice} />
      <InstallForm
        onInstalled={(p) => {
          setNotice(`Installed ${p.name} ${p.version}.`);
          load();
        }}
      />
      <section aria-labelledby="plugins-title">
        <h2 id="plugins-title">Installed and built-in</h2>
        {list?.some((p) => !p.builtin) && <RoleNote need={NEEDS.uninstallPlugin} id="uninstall-role-note" className="hint" />}
        <table>
          <thead>
            <tr>
              <th scope="col">Plugin</th>
              <th scope="col">Version</th>
              <th scope="col">Kind</th>
              <th scope="col">Code</th>
              <th scope="col">Grants</th>
              <th scope="col">Limits</th>
              <th scope="col">Config schema</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list?.map((p) => (
              <tr key={`${p.name}@${p.version}`}>
                <td>
                  <strong>{p.name}</strong>
                  <div className="hint">{p.description}</div>
                </td>
                <td>{p.version}</td>
                <td>{p.builtin ? 'built-in' : 'installed'}</td>
                <td>
                  <span className={`badge code-${p.code}`}>{p.code}</span>
                  <div className="hint">{formatBytes(p.size)}</div>
                </td>
                <td>{p.grants.length ? p.grants.join(', ') : <span className="hint">none</span>}</td>
                <td>
                  <ul className="plain">
                    {Object.entries(p.limits ?? {}).map(([k, v]) => (
                      <li key={k}>
                        {k}: {typeof v === 'number' ? formatNumber(v) : <span className="hint">host default</span>}
                      </li>
                    ))}
                  </ul>
                </td>
                <td>
                  <details>
                    <summary>Schema of {p.name} {p.version}</summary>
                    <pre className="json" tabIndex={0}>
                      {JSON.stringify(p.configSchema, null, 2)}
                    </pre>
                  </details>
                </td>
                <td>
                  {!p.builtin && (
                    <RoleButton
                      type="button"
                      className="danger"
                      need={NEEDS.uninstallPlugin}
                      noteId="uninstall-role-note"
                      onClick={() => setConfirm(p)}
                    >
                      Uninstall {p.name} {p.version}
                    </RoleButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {confirm && (
        <ConfirmDialog
          title={`Uninstall ${confirm.name} ${confirm.version}?`}
          body="Workflows that use this version will stop validating."
          action="Uninstall"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await pluginsApi.uninstall(confirm.name, confirm.version);
            setNotice(`Uninstalled ${confirm.name} ${confirm.version}.`);
            setConfirm(null);
            load();
          }}
        />
      )}
    </div>
  );
}

function InstallForm({ onInstalled }: { onInstalled: (p: PluginView) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [grants, setGrants] = useState('');
  const [limits, setLimits] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const { allowed } = useCan(NEEDS.installPlugin);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    const parsed: StepLimits = {};
    for (const { key } of LIMITS) {
      const v = limits[key]?.trim();
      if (!v) continue;
      if (!/^\d+$/.test(v)) {
        setError(`${key} must be a positive integer`);
        return;
      }
      parsed[key] = Number(v);
    }
    setBusy(true);
    try {
      const p = await pluginsApi.install(file, {
        grants: grants
          .split(/[\s,]+/)
          .map((g) => g.trim())
          .filter(Boolean),
        limits: parsed,
      });
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      onInstalled(p);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="install-title" className="card">
      <h2 id="install-title">Install a plugin</h2>
      <RoleNote need={NEEDS.installPlugin} id="install-role-note" className="hint" />
      <form onSubmit={submit}>
        <div className="row">
          <div className="field">
            <label htmlFor="plugin-file">Component (.wasm)</label>
            <input
              id="plugin-file"
              ref={fileInput}
              type="file"
              accept=".wasm,application/wasm"
              disabled={!allowed}
              aria-describedby={allowed ? undefined : 'install-role-note'}
              onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            />
          </div>
          <div className="field grow">
            <label htmlFor="plugin-grants">Grants</label>
            <input
              id="plugin-grants"
              placeholder="kv, http:api.example.com"
              value={grants}
              aria-describedby="plugin-grants-help"
              onChange={(e) => setGrants(e.target.value)}
            />
            <p className="hint" id="plugin-grants-help">
              Comma-separated capabilities the plugin may use.
            </p>
          </div>
        </div>
        <fieldset className="field-group">
          <legend>Limits (empty: the host's defaults)</legend>
          <div className="row">
            {LIMITS.map(({ key, label }) => (
              <div className="field" key={key}>
                <label htmlFor={`limit-${key}`}>{label}</label>
                <input
                  id={`limit-${key}`}
                  inputMode="numeric"
                  value={limits[key] ?? ''}
                  onChange={(e) => setLimits({ ...limits, [key]: e.target.value })}
                />
              </div>
            ))}
          </div>
        </fieldset>
        {error && (
          <p className="field-errors" role="alert">
            Install failed: {error}
          </p>
        )}
        <RoleButton type="submit" className="primary" need={NEEDS.installPlugin} noteId="install-role-note" disabled={!file || busy}>
          Install
        </RoleButton>
      </form>
    </section>
  );
}
