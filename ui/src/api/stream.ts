// Server-sent event streams of the host. EventSource sends the session cookie
// and reconnects by itself with `Last-Event-ID`, so a view never polls.

import { useEffect, useRef } from 'react';

/**
 * Listens to `event` on the stream at `url`. `onOpen` runs each time the
 * stream (re)connects, and on a `reset` event: a view refetches then, so that
 * nothing that changed before the stream was open is missed.
 */
export function useEventStream<T>(
  url: string | null,
  event: string,
  onEvent: (data: T) => void,
  onOpen?: () => void,
): void {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const opened = useRef(onOpen);
  opened.current = onOpen;
  useEffect(() => {
    if (!url) return;
    const source = new EventSource(url, { withCredentials: true });
    const listener = (e: MessageEvent<string>) => {
      try {
        handler.current(JSON.parse(e.data) as T);
      } catch {
        // A malformed event is skipped; the next one brings the state again.
      }
    };
    const open = () => {
      opened.current?.();
    };
    source.addEventListener(event, listener as EventListener);
    source.addEventListener('open', open);
    // The host could not replay what changed while the view was away (its
    // feed was pruned past the last event seen): reload, as on a reconnect.
    source.addEventListener('reset', open);
    return () => {
      source.removeEventListener('reset', open);
      source.removeEventListener('open', open);
      source.removeEventListener(event, listener as EventListener);
      source.close();
    };
  }, [url, event]);
}

export function runStreamUrl(filter: { workflowId?: string; runId?: string } = {}): string {
  const params = new URLSearchParams();
  if (filter.workflowId) params.set('workflowId', filter.workflowId);
  if (filter.runId) params.set('runId', filter.runId);
  const qs = params.toString();
  return qs ? `/api/workflow-runs/stream?${qs}` : '/api/workflow-runs/stream';
}
