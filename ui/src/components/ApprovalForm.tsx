// The comment and the Approve / Reject buttons of one approval step, shared by
// the approvals inbox and the run page. Below operator the buttons are refused
// (focusable, with the role they need) and the comment cannot be typed.

import { useId, useState } from 'react';
import { approvals } from '../api/api';
import { ApiError, messageOf } from '../api/client';
import { NEEDS, useCan } from '../api/roles';
import type { Decided, Decision } from '../api/types';
import { RoleButton, RoleNote } from './RoleButton';

/** What the page says once a decision is recorded: "Approved by dana …". */
export function decisionNotice(d: Decided): string {
  return `${d.decision === 'approved' ? 'Approved' : 'Rejected'} by ${d.by} (run ${d.runId}, step ${d.step}).`;
}

export function ApprovalForm({
  runId,
  step,
  noteId,
  onDecided,
  onConflict,
}: {
  runId: string;
  step: string;
  /** The id of a RoleNote the page shows once for many forms; else the form shows its own. */
  noteId?: string;
  onDecided: (d: Decided) => void;
  /** The host's 409: the run no longer waits at this step. */
  onConflict?: (message: string) => void;
}) {
  const fid = useId();
  const { allowed } = useCan(NEEDS.decideApproval);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const note = noteId ?? `${fid}-role`;

  const decide = async (decision: Decision) => {
    setBusy(true);
    setError(null);
    try {
      // `step` named: a run waiting at two approval steps would be ambiguous.
      onDecided(await approvals.decide(runId, decision, { comment: comment.trim() || undefined, step }));
    } catch (e) {
      setError(messageOf(e));
      if (e instanceof ApiError && e.status === 409) onConflict?.(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  const what = `run ${runId} at step ${step}`;
  return (
    <div className="approval-form">
      <div className="field">
        <label htmlFor={`${fid}-comment`}>
          Comment<span className="visually-hidden"> on {what}</span> (optional)
        </label>
        <textarea
          id={`${fid}-comment`}
          rows={2}
          value={comment}
          disabled={!allowed}
          onChange={(e) => setComment(e.target.value)}
        />
      </div>
      <div className="row-actions">
        <RoleButton type="button" className="primary" need={NEEDS.decideApproval} noteId={note} disabled={busy} onClick={() => decide('approved')}>
          Approve<span className="visually-hidden"> {what}</span>
        </RoleButton>
        <RoleButton type="button" className="danger" need={NEEDS.decideApproval} noteId={note} disabled={busy} onClick={() => decide('rejected')}>
          Reject<span className="visually-hidden"> {what}</span>
        </RoleButton>
      </div>
      {!noteId && <RoleNote need={NEEDS.decideApproval} id={note} />}
      {error && (
        <p className="notice is-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
