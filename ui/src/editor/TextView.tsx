// The JSON and YAML tabs: CodeMirror views of the same definition. Valid text
// that has the shape of a definition replaces it (the canvas follows); invalid
// text shows an error and leaves the definition as it was.
//
// CodeMirror styles itself with <style> elements, which the page's CSP
// forbids; inside a shadow root it uses constructed stylesheets instead.

import { useEffect, useRef, useState } from 'react';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { json } from '@codemirror/lang-json';
import { yaml } from '@codemirror/lang-yaml';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Definition } from '../api/types';
import { useEditor } from './store';
import { shapeError, toJson } from './model';

export type TextFormat = 'json' | 'yaml';

function serialize(def: Definition, format: TextFormat): string {
  return format === 'json' ? toJson(def) + '\n' : stringifyYaml(def, { lineWidth: 0 });
}

function parseText(text: string, format: TextFormat): { def?: Definition; error?: string } {
  let value: unknown;
  try {
    value = format === 'json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (e) {
    return { error: (e as Error).message };
  }
  const shape = shapeError(value);
  if (shape) return { error: shape };
  return { def: value as Definition };
}

const theme = EditorView.theme({
  '&': { height: '100%', fontSize: '13px', backgroundColor: '#fff' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', lineHeight: '1.5' },
  '.cm-gutters': { backgroundColor: '#f5f6f4', color: '#6b716c', border: 'none' },
  '&.cm-focused': { outline: '2px solid #2f5d62' },
});

export default function TextView({ format }: { format: TextFormat }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const fromText = useRef<Definition | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const el = host.current!;
    const shadow = el.shadowRoot ?? el.attachShadow({ mode: 'open' });
    const mount = document.createElement('div');
    mount.className = 'cm-mount';
    mount.style.height = '100%';
    shadow.replaceChildren(mount);
    const state = EditorState.create({
      doc: serialize(useEditor.getState().def, format),
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        indentOnInput(),
        bracketMatching(),
        syntaxHighlighting(defaultHighlightStyle),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        format === 'json' ? json() : yaml(),
        theme,
        EditorView.contentAttributes.of({
          'aria-label': format === 'json' ? 'Definition as JSON' : 'Definition as YAML',
        }),
        EditorView.updateListener.of((u) => {
          if (!u.docChanged) return;
          const text = u.state.doc.toString();
          const r = parseText(text, format);
          if (r.error) {
            setError(r.error);
            return;
          }
          setError(null);
          fromText.current = r.def!;
          useEditor.getState().change(r.def!, { key: `text:${format}` });
        }),
      ],
    });
    const v = new EditorView({ state, parent: mount, root: shadow });
    view.current = v;
    // For tests and tools: the whole text, which the DOM holds only in part.
    (el as HTMLElement & { editorText?: () => string }).editorText = () => v.state.doc.toString();
    // The scroller is a keyboard-reachable region of its own.
    v.scrollDOM.tabIndex = 0;
    const unsubscribe = useEditor.subscribe((s, prev) => {
      if (s.def === prev.def || s.def === fromText.current) return;
      const text = serialize(s.def, format);
      if (text === v.state.doc.toString()) return;
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: text } });
      setError(null);
    });
    return () => {
      unsubscribe();
      v.destroy();
      view.current = null;
    };
  }, [format]);

  return (
    <div className="text-view">
      <div ref={host} className="cm-host" />
      <p className={`text-status${error ? ' is-error' : ''}`} role={error ? 'alert' : 'status'}>
        {error ? `Not applied: ${error}` : 'In step with the canvas.'}
      </p>
    </div>
  );
}
