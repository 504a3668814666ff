import type { RunStatus, WorkflowStatus } from '../api/types';

export function StatusBadge({ status }: { status: RunStatus | WorkflowStatus | string }) {
  return <span className={`badge status-${status.toLowerCase()}`}>{status}</span>;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function formatDuration(us: number): string {
  if (us < 1000) return `${us} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatNumber(n: number): string {
  return n.toLocaleString('en');
}

export function triggerLabel(t: { type: string; config?: unknown }): string {
  const c = (t.config ?? {}) as Record<string, unknown>;
  if (t.type === 'event') return `event ${String(c.event ?? '')}`;
  if (t.type === 'cron') return `cron ${String(c.expression ?? '')}${c.timezone ? ` (${String(c.timezone)})` : ''}`;
  if (t.type === 'webhook') return `webhook (${String((c.verify as { type?: unknown } | undefined)?.type ?? '?')})`;
  return 'manual';
}
