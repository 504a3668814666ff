// A schema as a nested list a person can read: one line per field (name,
// required, type, facts), its allowed values and description below, and
// nested objects, arrays' items and variants behind a disclosure button.
// Children render only when opened, so a large document stays light.

import { useMemo, useState } from 'react';
import type { JsonSchema, OpenApiDoc } from '../api/openapi';
import { MAX_DEPTH, hasChildren, shapeOf, type Shape } from './schema';
import { Prose } from './Prose';

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The component name, the type and the facts, spaced for copying and reading aloud. */
export function TypeLine({ shape }: { shape: Shape }) {
  return (
    <>
      {shape.refName && <span className="api-ref">{shape.refName}</span>}
      {shape.refName && ' '}
      <span className="api-type">{shape.type}</span>
      {shape.facts.map((f) => (
        <span key={f}>
          {' '}
          <span className="api-fact">{f}</span>
        </span>
      ))}
    </>
  );
}

function Values({ values }: { values: unknown[] | undefined }) {
  if (!values?.length) return null;
  return (
    <p className="api-values">
      {values.length === 1 ? 'Always ' : 'One of '}
      {values.map((v, i) => (
        <span key={i}>
          {i > 0 && ', '}
          <code>{show(v)}</code>
        </span>
      ))}
    </p>
  );
}

/** The children of a node: its fields, other keys and variants. */
function Children({ doc, shape, depth }: { doc: OpenApiDoc; shape: Shape; depth: number }) {
  if (shape.recursive) return null;
  if (depth > MAX_DEPTH) return <p className="hint">Nested deeper than {MAX_DEPTH} levels: not shown.</p>;
  return (
    <>
      {(shape.fields.length > 0 || shape.otherKeys !== undefined) && (
        <ul className="api-fields">
          {shape.fields.map((f) => (
            <Node key={f.name} doc={doc} name={f.name} required={f.required} schema={f.schema} seen={shape.seen} depth={depth} />
          ))}
          {shape.otherKeys !== undefined && (
            <Node doc={doc} name="any other key" other schema={shape.otherKeys} seen={shape.seen} depth={depth} />
          )}
        </ul>
      )}
      {shape.variants && (
        <>
          <p className="api-variants">{shape.variants.kind === 'one of' ? 'One of:' : 'Any of:'}</p>
          <ul className="api-fields">
            {shape.variants.options.map((v, i) => (
              <Node
                key={i}
                doc={doc}
                name={v.label}
                variant
                schema={v.schema}
                seen={shape.seen}
                depth={depth}
              />
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function Node({
  doc,
  name,
  schema,
  seen,
  depth,
  required = false,
  variant = false,
  other = false,
}: {
  doc: OpenApiDoc;
  name: string;
  schema: JsonSchema;
  seen: readonly string[];
  depth: number;
  required?: boolean;
  variant?: boolean;
  other?: boolean;
}) {
  const shape = useMemo(() => shapeOf(doc, schema, seen), [doc, schema, seen]);
  const [open, setOpen] = useState(false);
  const openable = hasChildren(shape);
  const label = variant ? <span className="api-variant-name">{name}</span> : <code className={other ? 'api-name is-other' : 'api-name'}>{name}</code>;
  return (
    <li className="api-field">
      <div className="api-field-line">
        {openable ? (
          <button type="button" className="api-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
            {label}
          </button>
        ) : (
          <span className="api-leaf">{label}</span>
        )}{' '}
        {required && <span className="api-required">required</span>}{' '}
        <TypeLine shape={variant && shape.refName === name ? { ...shape, refName: undefined } : shape} />
        {shape.recursive && <span className="api-fact"> recursive: as above</span>}
      </div>
      <Values values={shape.values} />
      <Prose text={shape.description} className="api-prose api-field-desc" />
      {open && <Children doc={doc} shape={shape} depth={depth + 1} />}
    </li>
  );
}

/** The whole tree of one schema: its type line and description, then its children. */
export function SchemaTree({ doc, schema }: { doc: OpenApiDoc; schema: JsonSchema | undefined }) {
  const shape = useMemo(() => shapeOf(doc, schema), [doc, schema]);
  return (
    <div className="api-schema">
      <p className="api-field-line">
        <TypeLine shape={shape} />
      </p>
      <Values values={shape.values} />
      <Prose text={shape.description} className="api-prose api-field-desc" />
      <Children doc={doc} shape={shape} depth={1} />
    </div>
  );
}
