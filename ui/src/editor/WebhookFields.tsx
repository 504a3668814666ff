// The trigger inspector's fields of a webhook trigger: how requests are
// verified (and with which secret, by name), when they are answered, and
// the hook's rate.

import { useEffect, useState } from 'react';
import { secrets as secretsApi } from '../api/api';
import { NEEDS, useCan } from '../api/roles';
import type { FieldError, VerifyType, WebhookConfig } from '../api/types';
import { FieldErrors as Errors } from './FieldErrors';
import { VERIFY_TYPES } from '../api/types';
import {
  DEFAULT_WAIT_MS,
  MAX_WAIT_MS,
  VERIFY_LABEL,
  secretName,
  secretReference,
  withVerifyType,
} from './webhook';

const FIELDS = ['verify.type', 'verify.secret', 'verify.header', 'verify.toleranceSeconds', 'respond', 'timeoutMs', 'ratePerSecond'];

/** A number input's value as an integer, or absent when empty. */
function count(text: string): number | undefined {
  const n = Number(text);
  return text.trim() && Number.isFinite(n) ? Math.trunc(n) : undefined;
}

function without<T extends object, K extends keyof T>(o: T, key: K, value: T[K] | undefined): T {
  const out = { ...o };
  if (value === undefined) delete out[key];
  else out[key] = value;
  return out;
}

export function WebhookFields({
  config: c,
  errors,
  onChange,
}: {
  config: WebhookConfig;
  /** The host's errors of the trigger (`trigger.config.…`). */
  errors: FieldError[];
  onChange: (c: WebhookConfig, key?: string) => void;
}) {
  const names = useSecretNames();
  const on = (f: string) => errors.filter((e) => e.field === `trigger.config.${f}`);
  const rest = errors.filter((e) => !FIELDS.some((f) => e.field === `trigger.config.${f}`));
  const verify = c.verify;
  return (
    <>
      <Errors errors={rest.map((e) => ({ ...e, message: `${e.field}: ${e.message}` }))} />
      <div className="field">
        <label htmlFor="trigger-verify">Verification</label>
        <select
          id="trigger-verify"
          value={verify.type}
          aria-describedby="trigger-verify-help"
          onChange={(e) => onChange(withVerifyType(c, e.target.value as VerifyType))}
        >
          {VERIFY_TYPES.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
        <p className="hint" id="trigger-verify-help">
          {VERIFY_LABEL[verify.type]}
          {verify.type === 'none' ? ': anyone who knows the URL starts a run.' : '.'}
        </p>
        <Errors errors={on('verify.type')} />
      </div>
      {verify.type !== 'none' && (
        <div className="field">
          <label htmlFor="trigger-secret">Secret name</label>
          <input
            id="trigger-secret"
            className="mono"
            list={names.length ? 'trigger-secret-names' : undefined}
            spellCheck={false}
            value={secretName(verify.secret)}
            aria-describedby="trigger-secret-help"
            onChange={(e) =>
              onChange({ ...c, verify: { ...verify, secret: secretReference(e.target.value) } }, 'trigger.secret')
            }
          />
          {names.length > 0 && (
            <datalist id="trigger-secret-names">
              {names.map((n) => (
                <option key={n} value={n} />
              ))}
            </datalist>
          )}
          <p className="hint" id="trigger-secret-help">
            A secret set on the Secrets page; the workflow keeps only its name, as{' '}
            <code>{secretReference(secretName(verify.secret) || 'NAME')}</code>.
          </p>
          <Errors errors={on('verify.secret')} />
        </div>
      )}
      {verify.type === 'hmac-sha256' && (
        <div className="field">
          <label htmlFor="trigger-header">Signature header</label>
          <input
            id="trigger-header"
            className="mono"
            placeholder="X-Hub-Signature-256"
            value={verify.header ?? ''}
            onChange={(e) =>
              onChange({ ...c, verify: without(verify, 'header', e.target.value || undefined) }, 'trigger.header')
            }
          />
          <Errors errors={on('verify.header')} />
        </div>
      )}
      <div className="field">
        <label htmlFor="trigger-respond">Answer</label>
        <select
          id="trigger-respond"
          value={c.respond ?? 'accepted'}
          onChange={(e) => {
            const respond = e.target.value as WebhookConfig['respond'];
            onChange(respond === 'when-done' ? { ...c, respond } : without({ ...c, respond }, 'timeoutMs', undefined));
          }}
        >
          <option value="accepted">accepted: at once, 202 with the run id</option>
          <option value="when-done">when-done: with the run's result</option>
        </select>
        <Errors errors={on('respond')} />
      </div>
      {c.respond === 'when-done' && (
        <div className="field">
          <label htmlFor="trigger-timeout">Wait for the run (ms)</label>
          <input
            id="trigger-timeout"
            type="number"
            min={1}
            max={MAX_WAIT_MS}
            placeholder={String(DEFAULT_WAIT_MS)}
            value={c.timeoutMs ?? ''}
            aria-describedby="trigger-timeout-help"
            onChange={(e) => onChange(without(c, 'timeoutMs', count(e.target.value)), 'trigger.timeoutMs')}
          />
          <p className="hint" id="trigger-timeout-help">
            Longer runs are answered 202; at most {MAX_WAIT_MS.toLocaleString('en')}.
          </p>
          <Errors errors={on('timeoutMs')} />
        </div>
      )}
      <div className="field">
        <label htmlFor="trigger-rate">Requests a second</label>
        <input
          id="trigger-rate"
          type="number"
          min={1}
          placeholder="50"
          value={c.ratePerSecond ?? ''}
          onChange={(e) => onChange(without(c, 'ratePerSecond', count(e.target.value)), 'trigger.ratePerSecond')}
        />
        <Errors errors={on('ratePerSecond')} />
      </div>
    </>
  );
}

/** The names of the secrets, for admins (others may not list them). */
function useSecretNames(): string[] {
  const { allowed } = useCan(NEEDS.listSecrets);
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    if (!allowed) return;
    let live = true;
    secretsApi
      .list()
      .then((r) => live && setNames(r.data.map((s) => s.name)))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [allowed]);
  return names;
}
