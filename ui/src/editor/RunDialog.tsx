// "Run now": a JSON payload, then the run page.

import { useEffect, useRef, useState } from 'react';
import { messageOf } from '../api/client';
import type { Json } from '../api/types';

export function RunDialog({ onRun, onClose }: { onRun: (payload: Json) => Promise<void>; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState('{}');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    return () => d.close();
  }, []);
  const run = async () => {
    let payload: Json;
    try {
      payload = JSON.parse(text);
    } catch (e) {
      setError(`The payload is not JSON: ${messageOf(e)}`);
      return;
    }
    setBusy(true);
    try {
      await onRun(payload);
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="run-title" onCancel={onClose}>
      <h2 id="run-title">Run now</h2>
      <div className="field">
        <label htmlFor="run-payload">Payload (JSON, seen by steps as <code>event</code>)</label>
        <textarea id="run-payload" className="mono" rows={8} value={text} onChange={(e) => setText(e.target.value)} />
      </div>
      {error && (
        <p className="field-errors" role="alert">
          {error}
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={run} disabled={busy}>
          Start run
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
