// Copies a text to the clipboard and says whether it worked. Without the
// clipboard API (or its permission), it selects the text for a manual copy.

import { useEffect, useState } from 'react';

export function CopyButton({ text, label, selectId }: { text: string; label: string; selectId?: string }) {
  const [said, setSaid] = useState<string | null>(null);
  useEffect(() => {
    if (!said) return;
    const t = window.setTimeout(() => setSaid(null), 4000);
    return () => window.clearTimeout(t);
  }, [said]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setSaid('Copied.');
    } catch {
      const el = selectId ? document.getElementById(selectId) : null;
      if (el instanceof HTMLInputElement) {
        el.focus();
        el.select();
      }
      setSaid('Could not copy: the text is selected, press Ctrl+C.');
    }
  };
  return (
    <>
      <button type="button" className="secondary" onClick={copy}>
        {label}
      </button>
      <span className="hint" role="status">
        {said}
      </span>
    </>
  );
}
