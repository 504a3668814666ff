// Roles of API tokens and the one table of which role each write needs,
// mirroring the host's `required_role` (host/src/api/roles.rs). The page uses
// it to disable what the signed-in token cannot do; the host still decides.

import { create } from 'zustand';

/** Weakest first; each role includes the ones before it. */
export const ROLES = ['viewer', 'operator', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** Whether `role` includes `need`. */
export function includes(role: Role | null, need: Role): boolean {
  return role !== null && ROLES.indexOf(role) >= ROLES.indexOf(need);
}

/** Reads only an admin may make: they list credentials or who did what. */
const ADMIN_READS = new Set(['/api/tokens', '/api/secrets', '/api/audit']);

/**
 * The role a request needs, by method and route pattern (`{id}` and `{slug}`
 * as in the host). A write missing from the table needs `admin`.
 */
export function requiredRole(method: string, route: string): Role {
  const reads = method === 'GET' || method === 'HEAD';
  if (reads) return ADMIN_READS.has(route) ? 'admin' : 'viewer';
  switch (route) {
    // A computation that stores nothing and costs little.
    case '/api/cron/preview':
      return 'viewer';
    case '/api/workflows/{id}/trigger':
    case '/api/events':
    case '/api/workflow-runs/{id}/cancel':
    case '/api/workflow-runs/{id}/retry':
    case '/api/workflow-runs/{id}/approve':
    case '/api/workflow-runs/{id}/reject':
    case '/api/notifications/{id}/read':
      return 'operator';
    case '/api/workflows':
    case '/api/workflows/{id}':
    case '/api/workflows/{id}/activate':
    case '/api/workflows/{id}/pause':
    case '/api/workflows/{id}/archive':
    case '/api/email-templates':
    case '/api/email-templates/{slug}':
    // Renders a template the caller writes: as much power as saving one.
    case '/api/email-templates/preview':
      return 'editor';
    default:
      return 'admin';
  }
}

/** The actions of the page, each by the request it makes. */
export const NEEDS = {
  triggerRun: requiredRole('POST', '/api/workflows/{id}/trigger'),
  cancelRun: requiredRole('POST', '/api/workflow-runs/{id}/cancel'),
  retryRun: requiredRole('POST', '/api/workflow-runs/{id}/retry'),
  decideApproval: requiredRole('POST', '/api/workflow-runs/{id}/approve'),
  readNotification: requiredRole('POST', '/api/notifications/{id}/read'),
  createWorkflow: requiredRole('POST', '/api/workflows'),
  saveWorkflow: requiredRole('PUT', '/api/workflows/{id}'),
  activateWorkflow: requiredRole('PUT', '/api/workflows/{id}/activate'),
  pauseWorkflow: requiredRole('PUT', '/api/workflows/{id}/pause'),
  archiveWorkflow: requiredRole('PUT', '/api/workflows/{id}/archive'),
  createTemplate: requiredRole('POST', '/api/email-templates'),
  saveTemplate: requiredRole('PUT', '/api/email-templates/{slug}'),
  deleteTemplate: requiredRole('DELETE', '/api/email-templates/{slug}'),
  installPlugin: requiredRole('POST', '/api/plugins'),
  uninstallPlugin: requiredRole('DELETE', '/api/plugins/{name}/{version}'),
  listTokens: requiredRole('GET', '/api/tokens'),
  createToken: requiredRole('POST', '/api/tokens'),
  revokeToken: requiredRole('DELETE', '/api/tokens/{id}'),
  listSecrets: requiredRole('GET', '/api/secrets'),
  setSecret: requiredRole('PUT', '/api/secrets/{name}'),
  removeSecret: requiredRole('DELETE', '/api/secrets/{name}'),
  listAudit: requiredRole('GET', '/api/audit'),
} as const satisfies Record<string, Role>;

export interface Who {
  name: string;
  role: Role;
}

/** Who is signed in (null: nobody, or not known yet). */
export const useWho = create<{ who: Who | null; set: (who: Who | null) => void }>((set) => ({
  who: null,
  set: (who) => set({ who }),
}));

/** Whether the signed-in token may do what needs `need`, and why not. */
export function useCan(need: Role): { allowed: boolean; role: Role | null; reason: string } {
  const role = useWho((s) => s.who?.role ?? null);
  return { allowed: includes(role, need), role, reason: `needs the ${need} role` };
}
