// A webhook trigger's config as the editor reads and writes it: the secret
// is always a reference, `{{ secrets.NAME }}`, never a value.

import type { JsonObject, Respond, Trigger, VerifyType, WebhookConfig } from '../api/types';
import { VERIFY_TYPES } from '../api/types';

/** How long `when-done` waits when the trigger names no timeout (host/src/api/hooks.rs). */
export const DEFAULT_WAIT_MS = 30_000;
/** Longest `timeoutMs` the host accepts (core/src/validate.rs). */
export const MAX_WAIT_MS = 60_000;

export const VERIFY_LABEL: Record<VerifyType, string> = {
  'standard-webhooks': 'Standard Webhooks signature',
  'hmac-sha256': 'HMAC-SHA256 of the body in a header',
  bearer: 'Authorization: Bearer secret',
  none: 'none (the URL alone)',
};

export function newWebhookTrigger(): Trigger {
  return { type: 'webhook', config: { verify: { type: 'standard-webhooks', secret: '' }, respond: 'accepted' } };
}

/** The config of a webhook trigger, read leniently (the text views may hold anything). */
export function webhookConfig(t: Trigger): WebhookConfig {
  const c = (t.config ?? {}) as Partial<WebhookConfig>;
  const v = (c.verify ?? {}) as Partial<WebhookConfig['verify']>;
  const type = VERIFY_TYPES.includes(v.type as VerifyType) ? (v.type as VerifyType) : 'standard-webhooks';
  return { ...c, verify: { ...v, type }, respond: c.respond === 'when-done' ? 'when-done' : 'accepted' } as WebhookConfig;
}

/** The NAME of `{{ secrets.NAME }}`, or the text itself when it is not such a reference. */
export function secretName(reference: string | undefined): string {
  const m = /^\{\{\s*secrets\.(.*?)\s*\}\}$/.exec((reference ?? '').trim());
  return m ? m[1] : (reference ?? '');
}

export function secretReference(name: string): string {
  const n = name.trim();
  return n ? `{{ secrets.${n} }}` : '';
}

/** The verification of another type, keeping the secret (fields of other types would be refused). */
export function withVerifyType(c: WebhookConfig, type: VerifyType): WebhookConfig {
  const secret = c.verify.secret ?? '';
  return { ...c, verify: type === 'none' ? { type } : { type, secret } };
}

export function respondLabel(respond: Respond, timeoutMs?: number): string {
  return respond === 'when-done'
    ? `when the run ends, with its result (or 202 after ${(timeoutMs ?? DEFAULT_WAIT_MS).toLocaleString('en')} ms)`
    : 'at once: 202 with the run id';
}

export function asJson(c: WebhookConfig): JsonObject {
  return c as unknown as JsonObject;
}
