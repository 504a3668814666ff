// A description from the API document as plain text: paragraphs at blank
// lines, wrapped lines joined, and `backticks` shown as code. No markdown
// library, and no HTML from the document is ever interpreted.

import type { ReactNode } from 'react';

function inline(paragraph: string): ReactNode[] {
  const parts = paragraph.split('`');
  // An odd count of backticks leaves the last one as text.
  if (parts.length % 2 === 0) parts.splice(parts.length - 2, 2, `${parts[parts.length - 2]}\`${parts[parts.length - 1]}`);
  return parts.map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part));
}

/** One line of text (paragraphs joined), for inside a button or a heading. */
export function Inline({ text }: { text: string | undefined }) {
  if (!text) return null;
  return <>{inline(text.replace(/\s*\n\s*/g, ' ').trim())}</>;
}

export function Prose({ text, className = 'api-prose' }: { text: string | undefined; className?: string }) {
  if (!text) return null;
  const paragraphs = text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s*\n\s*/g, ' ').trim())
    .filter(Boolean);
  return (
    <div className={className}>
      {paragraphs.map((p, i) => (
        <p key={i}>{inline(p)}</p>
      ))}
    </div>
  );
}
