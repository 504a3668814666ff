// A modal that asks before an action that cannot be undone, and shows why it
// failed if it does.

import { useEffect, useRef, useState } from 'react';
import { messageOf } from '../api/client';

export function ConfirmDialog({
  title,
  body,
  action,
  onConfirm,
  onClose,
}: {
  title: string;
  body: string;
  action: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    return () => d.close();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="confirm-title" onCancel={onClose}>
      <h2 id="confirm-title">{title}</h2>
      <p>{body}</p>
      {error && (
        <p className="field-errors" role="alert">
          {error}
        </p>
      )}
      <div className="actions">
        <button
          type="button"
          className="danger"
          onClick={() => onConfirm().catch((e) => setError(messageOf(e)))}
        >
          {action}
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
