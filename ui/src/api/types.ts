// Shapes of the host's JSON API (host/src/api/*.rs). Kept by hand, checked
// against the Rust views when they change.

export type WorkflowStatus = 'DRAFT' | 'ACTIVE' | 'PAUSED' | 'ARCHIVED';
export type RunStatus = 'PENDING' | 'RUNNING' | 'WAITING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export const WORKFLOW_STATUSES: WorkflowStatus[] = ['DRAFT', 'ACTIVE', 'PAUSED', 'ARCHIVED'];
export const RUN_STATUSES: RunStatus[] = ['PENDING', 'RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED'];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Paged<T> {
  data: T[];
  page: number;
  pageSize: number;
  total: number;
}

export type TriggerType = 'manual' | 'event' | 'cron' | 'webhook';

export type VerifyType = 'standard-webhooks' | 'hmac-sha256' | 'bearer' | 'none';
export const VERIFY_TYPES: VerifyType[] = ['standard-webhooks', 'hmac-sha256', 'bearer', 'none'];
export type Respond = 'accepted' | 'when-done';

/** A webhook trigger's config (core/src/definition.rs `WebhookTrigger`). */
export interface WebhookConfig {
  verify: { type: VerifyType; secret?: string; header?: string; toleranceSeconds?: number };
  respond?: Respond;
  timeoutMs?: number;
  ratePerSecond?: number;
}

/** Where a saved webhook workflow listens, and how (server-owned). */
export interface HookView {
  path: string;
  verify: VerifyType | null;
  respond: Respond;
}

export interface Trigger {
  type: TriggerType;
  config?: JsonObject | null;
}

export interface RetryPolicy {
  maxAttempts: number;
  backoffMs?: number;
  multiplier?: number;
  maxBackoffMs?: number;
}

export interface StepLimits {
  fuel?: number;
  memoryBytes?: number;
  timeMs?: number;
  outputBytes?: number;
}

export interface Step {
  id: string;
  type: string;
  config?: JsonObject;
  next?: string;
  onError?: string;
  retry?: RetryPolicy;
  limits?: StepLimits;
  branches?: Step[][];
  /** The body of a `for-each` step. */
  steps?: Step[];
}

export interface Position {
  x: number;
  y: number;
}

export interface Layout {
  nodes?: Record<string, Position>;
  [key: string]: unknown;
}

/** A workflow as a person writes it: what the editor edits. */
export interface Definition {
  name: string;
  description?: string | null;
  trigger: Trigger;
  steps: Step[];
  limits?: { maxSteps?: number } | null;
  /** How long finished runs are kept, e.g. `30d`. */
  retention?: string | null;
  /** How long a run may take, e.g. `1h`. */
  timeout?: string | null;
  /** At most `limit` runs in progress per rendered `key`. */
  concurrency?: { limit: number; key?: string } | null;
  layout?: Layout | null;
}

export interface LastRun {
  id: string;
  status: RunStatus;
  startedAt: string;
}

export interface WorkflowView extends Definition {
  id: string;
  status: WorkflowStatus;
  version: number;
  createdAt: string;
  updatedAt: string;
  nextFireAt?: string;
  cronError?: string;
  lastRun?: LastRun | null;
  hook?: HookView;
}

export interface LogView {
  id: string;
  runId: string;
  seq?: number;
  step: string;
  action: string;
  result: Json;
  resultTruncated?: boolean;
  resultBytes?: number;
  createdAt: string;
  attempt: number;
  fuel: number;
  durationUs: number;
  peakMemoryBytes: number;
}

export interface RunView {
  id: string;
  workflowId: string;
  status: RunStatus;
  context?: Json;
  currentStep: string | null;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  wakeAt: string | null;
  /** The run whose `call-workflow` step started this one. */
  parentRunId?: string;
  /** The run's snapshot of the workflow (no trigger, no layout). */
  definition?: RunDefinition;
  logs?: LogView[];
  changeSeq?: number;
}

export interface RunDefinition {
  workflowId?: string;
  workflowName?: string;
  version?: number;
  steps: Step[];
  resolved?: unknown;
}

export interface PluginView {
  name: string;
  version: string;
  description: string;
  configSchema: Json;
  capabilities: string[];
  grants: string[];
  limits: Record<string, number>;
  sha256: string;
  size: number;
  builtin: boolean;
  code: 'quick' | 'optimized' | string;
  installedAt: string | null;
}

export interface PluginSettings {
  grants: string[];
  limits: StepLimits;
}

export interface StepTypeView {
  type: string;
  kind: 'engine' | 'plugin';
  builtin?: boolean;
  version?: string;
  versions: string[];
  description: string;
  configSchema: JsonObject | boolean | null;
  targets?: string[];
}

export interface EmailTemplate {
  slug: string;
  subject: string;
  text?: string | null;
  html?: string | null;
  createdAt?: string;
  updatedAt?: string;
}

export interface RenderedEmail {
  subject: string;
  text: string | null;
  html: string | null;
}

export interface NotificationView {
  id: string;
  title: string;
  body: string | null;
  level: string;
  link: string | null;
  data: Json;
  workflowId: string | null;
  runId: string | null;
  stepId: string | null;
  createdAt: string;
  read: boolean;
  readAt: string | null;
}

/** A run waiting at an approval step (GET /api/approvals). */
export interface PendingApproval {
  runId: string;
  step: string;
  /** The step's message, rendered. */
  message: string | null;
  workflowId: string;
  workflowName: string;
  waitingSince: string;
  expiresAt: string | null;
  runStartedAt: string;
}

export type Decision = 'approved' | 'rejected';

/** A recorded decision, which is also the approval step's output. */
export interface Decided {
  runId: string;
  step: string;
  decision: Decision;
  /** The name of the token that decided. */
  by: string;
  comment: string | null;
  at: string;
}

export interface WorkflowStats {
  workflowId: string;
  runs: number;
  failures: number;
}

/** One entry of a 422's `details`. */
export interface FieldError {
  step?: string;
  field: string;
  message: string;
}

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/** An API token as listed (never its value). */
export interface TokenView {
  id: string;
  name: string;
  role: 'viewer' | 'operator' | 'editor' | 'admin';
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** The answer of creating a token: the only time its value is shown. */
export interface CreatedToken extends TokenView {
  token: string;
}

/** A workflow that names a secret. */
export interface SecretUse {
  id: string;
  name: string;
}

/** A secret as listed: never its value. */
export interface SecretView {
  name: string;
  allowedHosts: string[];
  createdAt: string;
  updatedAt: string;
  usedBy: SecretUse[];
}

export interface SecretList {
  data: SecretView[];
  keyFingerprint: string;
}

/** One entry of the audit log. */
export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  role: string;
  action: string;
  target: string;
  detail: Json | null;
}

export interface AuditPage {
  data: AuditEntry[];
  /** The `before` of the next (older) page; null on the last one. */
  next: number | null;
}

/** The actions the host records (host/src/api/audit.rs `action_of`). */
export const AUDIT_ACTIONS = [
  'workflow.created',
  'workflow.edited',
  'workflow.activated',
  'workflow.paused',
  'workflow.archived',
  'run.cancelled',
  'run.retried',
  'run.approved',
  'run.rejected',
  'plugin.installed',
  'plugin.removed',
  'email-template.created',
  'email-template.edited',
  'email-template.removed',
  'token.created',
  'token.revoked',
  'secret.set',
  'secret.removed',
] as const;
