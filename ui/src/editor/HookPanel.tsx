// Where a webhook workflow listens: the full URL to give the sender (known
// once saved), how requests are verified and when they are answered.

import { Link } from 'react-router';
import { NEEDS, useCan } from '../api/roles';
import { CopyButton } from '../components/CopyButton';
import { useEditor } from './store';
import { VERIFY_LABEL, respondLabel, secretName, webhookConfig } from './webhook';

export function HookPanel() {
  const trigger = useEditor((s) => s.def.trigger);
  const hook = useEditor((s) => s.meta.hook);
  const { allowed: seesSecrets } = useCan(NEEDS.listSecrets);
  if (trigger.type !== 'webhook') return null;
  const c = webhookConfig(trigger);
  const secret = c.verify.type === 'none' ? '' : secretName(c.verify.secret);
  const url = hook ? `${window.location.origin}${hook.path}` : null;
  const stale = hook && (hook.verify !== c.verify.type || hook.respond !== c.respond);
  return (
    <section className="hook-panel" aria-labelledby="hook-title">
      <h2 id="hook-title" className="visually-hidden">
        Webhook
      </h2>
      {url ? (
        <div className="hook-url">
          <label htmlFor="hook-url">Hook URL</label>
          <input id="hook-url" className="mono" readOnly value={url} onFocus={(e) => e.currentTarget.select()} />
          <CopyButton text={url} label="Copy hook URL" selectId="hook-url" />
        </div>
      ) : (
        <p className="hint">The hook URL appears after saving.</p>
      )}
      <dl className="hook-facts">
        <div>
          <dt>Verification</dt>
          <dd>
            <code>{c.verify.type}</code> <span className="hint">{VERIFY_LABEL[c.verify.type]}</span>
          </dd>
        </div>
        {c.verify.type !== 'none' && (
          <div>
            <dt>Secret</dt>
            <dd>
              {secret ? (
                seesSecrets ? (
                  <Link to="/secrets" className="mono">
                    {secret}
                  </Link>
                ) : (
                  <code>{secret}</code>
                )
              ) : (
                <span className="field-errors">none named yet</span>
              )}
            </dd>
          </div>
        )}
        <div>
          <dt>Answers</dt>
          <dd>
            <code>{c.respond}</code> <span className="hint">{respondLabel(c.respond ?? 'accepted', c.timeoutMs)}</span>
          </dd>
        </div>
      </dl>
      {stale && (
        <p className="hint">
          Until you save, the hook still verifies by <code>{hook.verify ?? 'none'}</code> and answers <code>{hook.respond}</code>.
        </p>
      )}
    </section>
  );
}
