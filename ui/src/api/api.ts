// Typed calls of the host API. Components use these, never `fetch`.

import { get, request, send } from './client';
import { isRole, type Role, type Who } from './roles';
import type { OpenApiDoc } from './openapi';
import type {
  AuditPage,
  Definition,
  SecretList,
  SecretView,
  EmailTemplate,
  Json,
  LogView,
  NotificationView,
  Paged,
  PluginSettings,
  PluginView,
  RenderedEmail,
  RunStatus,
  RunView,
  TokenView,
  CreatedToken,
  Decided,
  Decision,
  PendingApproval,
  StepTypeView,
  WorkflowStats,
  WorkflowStatus,
  WorkflowView,
} from './types';

const enc = encodeURIComponent;

export const session = {
  signIn: (token: string) => send<{ ok: boolean }>('POST', '/api/session', { token }, { quiet401: true }),
  /** Who is signed in, or null. A host without roles counts as admin. */
  check: async (): Promise<Who | null> => {
    try {
      const answer = await request<{ authenticated: boolean; name?: string; role?: string }>('/api/session', {
        quiet401: true,
      });
      const b = answer.body;
      if (b?.authenticated !== true) return null;
      return { name: typeof b.name === 'string' ? b.name : 'admin', role: isRole(b.role) ? b.role : 'admin' };
    } catch {
      return null;
    }
  },
  signOut: () => send<void>('DELETE', '/api/session', undefined, { quiet401: true }),
};

export const workflows = {
  list: (q: { status?: WorkflowStatus | ''; page?: number; pageSize?: number } = {}) =>
    get<Paged<WorkflowView>>('/api/workflows', q),
  /** The workflow and its version from the ETag. */
  show: async (id: string): Promise<WorkflowView> => {
    const r = await request<WorkflowView>(`/api/workflows/${enc(id)}`);
    return r.body;
  },
  create: (def: Definition) => send<WorkflowView>('POST', '/api/workflows', def),
  save: (id: string, def: Definition, version?: number) =>
    send<WorkflowView>('PUT', `/api/workflows/${enc(id)}`, def, {
      headers: version === undefined ? {} : { 'If-Match': `"${version}"` },
    }),
  activate: (id: string) => send<WorkflowView>('PUT', `/api/workflows/${enc(id)}/activate`),
  pause: (id: string) => send<WorkflowView>('PUT', `/api/workflows/${enc(id)}/pause`),
  archive: (id: string) => send<WorkflowView>('PUT', `/api/workflows/${enc(id)}/archive`),
  trigger: (id: string, payload: Json) =>
    send<{ id: string; workflowId: string; status: RunStatus }>('POST', `/api/workflows/${enc(id)}/trigger`, payload),
  stats: (since: string) => get<{ data: WorkflowStats[] }>('/api/workflow-stats', { since }),
};

export const runs = {
  list: (q: { workflowId?: string; status?: RunStatus | ''; page?: number; pageSize?: number } = {}) =>
    get<Paged<RunView>>('/api/workflow-runs', q),
  show: (id: string) => get<RunView>(`/api/workflow-runs/${enc(id)}`),
  log: (id: string, logId: string) => get<LogView>(`/api/workflow-runs/${enc(id)}/logs/${enc(logId)}`),
  cancel: (id: string) => send<RunView>('POST', `/api/workflow-runs/${enc(id)}/cancel`),
  retry: (id: string) => send<RunView>('POST', `/api/workflow-runs/${enc(id)}/retry`),
};

export const approvals = {
  /** Oldest first, at most `limit` (1 to 500). */
  list: (limit = 100) => get<{ data: PendingApproval[] }>('/api/approvals', { limit }).then((r) => r.data),
  /** 409 when the run no longer waits at `step` (someone else decided, or it timed out). */
  decide: (runId: string, decision: Decision, body: { comment?: string; step?: string }) =>
    send<Decided>('POST', `/api/workflow-runs/${enc(runId)}/${decision === 'approved' ? 'approve' : 'reject'}`, body),
};

export const stepTypes = {
  list: () => get<{ data: StepTypeView[] }>('/api/step-types'),
};

export const cron = {
  preview: (expression: string, timezone?: string, count = 5) =>
    send<{ next: string[] }>('POST', '/api/cron/preview', { expression, timezone: timezone || undefined, count }),
};

export const plugins = {
  list: () => get<{ data: PluginView[] }>('/api/plugins'),
  install: (file: File, settings: PluginSettings) => {
    const form = new FormData();
    form.append('component', file, file.name);
    form.append('settings', new Blob([JSON.stringify(settings)], { type: 'application/json' }), 'settings.json');
    return request<PluginView>('/api/plugins', { method: 'POST', form }).then((r) => r.body);
  },
  uninstall: (name: string, version: string) => send<void>('DELETE', `/api/plugins/${enc(name)}/${enc(version)}`),
};

export const emailTemplates = {
  list: () => get<{ data: EmailTemplate[] } | EmailTemplate[]>('/api/email-templates').then((r) =>
    Array.isArray(r) ? r : r.data,
  ),
  show: (slug: string) => get<EmailTemplate>(`/api/email-templates/${enc(slug)}`),
  create: (t: EmailTemplate) => send<EmailTemplate>('POST', '/api/email-templates', t),
  update: (slug: string, t: Omit<EmailTemplate, 'slug'>) =>
    send<EmailTemplate>('PUT', `/api/email-templates/${enc(slug)}`, t),
  remove: (slug: string) => send<void>('DELETE', `/api/email-templates/${enc(slug)}`),
  preview: (t: { subject: string; text?: string | null; html?: string | null; data: Json }) =>
    send<RenderedEmail>('POST', '/api/email-templates/preview', t),
};

export const notifications = {
  list: (unread = true) => get<Paged<NotificationView>>('/api/notifications', { unread, pageSize: 20 }),
  read: (id: string) => send<NotificationView>('POST', `/api/notifications/${enc(id)}/read`),
};

export const tokens = {
  list: () => get<{ data: TokenView[] }>('/api/tokens').then((r) => r.data),
  create: (t: { name: string; role: Role; expiresAt?: string }) => send<CreatedToken>('POST', '/api/tokens', t),
  revoke: (id: string) => send<void>('DELETE', `/api/tokens/${enc(id)}`),
};

export const secrets = {
  list: () => get<SecretList>('/api/secrets'),
  /** Creates or replaces; the value is sent, never read back. */
  set: (name: string, value: string, allowedHosts: string[]) =>
    send<SecretView>('PUT', `/api/secrets/${enc(name)}`, { value, allowedHosts }),
  remove: (name: string) => send<void>('DELETE', `/api/secrets/${enc(name)}`),
};

export const audit = {
  list: (q: { action?: string; before?: number; limit?: number } = {}) => get<AuditPage>('/api/audit', q),
};

export const apiDocs = {
  /** The host's OpenAPI 3.1 document (public: no token needed). */
  document: () => get<OpenApiDoc>('/api/openapi.json'),
};
