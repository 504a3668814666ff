// One operation of the API page: a heading line (method, path, summary, the
// role it needs, a link to it) that opens its details: description,
// parameters, request body and each answer with its schema.

import { useState } from 'react';
import type { OpenApiDoc } from '../api/openapi';
import { includes, isRole, useWho } from '../api/roles';
import { shapeOf } from './schema';
import type { Answer, Media, Operation, Param } from './operations';
import { Inline, Prose } from './Prose';
import { SchemaTree, TypeLine } from './SchemaTree';

export function MethodBadge({ method }: { method: string }) {
  return <span className={`api-method method-${method}`}>{method.toUpperCase()}</span>;
}

/** The role an operation needs, and a note when the signed-in token's is below it. */
function RoleNeeded({ role }: { role: string | null }) {
  const who = useWho((s) => s.who);
  if (role === null) return <span className="badge api-role is-public">no token needed</span>;
  const below = who && isRole(role) && !includes(who.role, role);
  return (
    <span className="api-role-line">
      <span className={`badge api-role role-${role}`}>
        <span className="visually-hidden">needs the role </span>
        {role}
      </span>
      {below && <span className="role-note">your token is {who.role}</span>}
    </span>
  );
}

export function OperationEntry({
  doc,
  op,
  open,
  onToggle,
}: {
  doc: OpenApiDoc;
  op: Operation;
  open: boolean;
  onToggle: (open: boolean) => void;
}) {
  const bodyId = `${op.anchor}-details`;
  return (
    <article id={op.anchor} className={`api-op${open ? ' is-open' : ''}`} aria-labelledby={`${op.anchor}-title`}>
      <div className="api-op-head">
        <h3 id={`${op.anchor}-title`}>
          <button
            type="button"
            className="api-op-toggle"
            aria-expanded={open}
            aria-controls={open ? bodyId : undefined}
            onClick={() => onToggle(!open)}
          >
            <MethodBadge method={op.method} />{' '}
            <code className="api-path">{op.path}</code>{' '}
            {op.summary && (
              <span className="api-summary">
                <Inline text={op.summary} />
              </span>
            )}
          </button>
        </h3>
        {op.deprecated && <span className="badge">deprecated</span>}
        <RoleNeeded role={op.role} />
        <a className="api-anchor" href={`#${op.anchor}`}>
          <span aria-hidden="true">#</span>
          <span className="visually-hidden">
            Link to {op.method.toUpperCase()} {op.path}
          </span>
        </a>
      </div>
      {open && (
        <div id={bodyId} className="api-op-body">
          <Prose text={op.description} />
          <p className="hint">
            Operation id <code>{op.operationId ?? '—'}</code>
            {op.role ? (
              <>
                {' '}
                · needs the <strong>{op.role}</strong> role or above
              </>
            ) : (
              <> · public: no token needed</>
            )}
          </p>
          {op.params.length > 0 && <Params doc={doc} op={op} />}
          {op.body && (
            <section aria-labelledby={`${op.anchor}-body`} className="api-part">
              <h4 id={`${op.anchor}-body`}>
                Request body{' '}
                {op.body.required ? <span className="api-required">required</span> : <span className="hint">optional</span>}
              </h4>
              <Prose text={op.body.description} />
              <Contents doc={doc} content={op.body.content} />
            </section>
          )}
          <section aria-labelledby={`${op.anchor}-answers`} className="api-part">
            <h4 id={`${op.anchor}-answers`}>Responses</h4>
            {op.answers.length === 0 ? (
              <p className="hint">None listed.</p>
            ) : (
              <ul className="api-answers">
                {op.answers.map((a) => (
                  <AnswerEntry key={a.status} doc={doc} answer={a} anchor={op.anchor} />
                ))}
              </ul>
            )}
          </section>
        </div>
      )}
    </article>
  );
}

function Params({ doc, op }: { doc: OpenApiDoc; op: Operation }) {
  return (
    <section aria-labelledby={`${op.anchor}-params`} className="api-part">
      <h4 id={`${op.anchor}-params`}>Parameters</h4>
      <table className="api-params">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">In</th>
            <th scope="col">Type</th>
            <th scope="col">Required</th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {op.params.map((p) => (
            <ParamRow key={`${p.in} ${p.name}`} doc={doc} param={p} />
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ParamRow({ doc, param }: { doc: OpenApiDoc; param: Param }) {
  const shape = shapeOf(doc, param.schema);
  return (
    <tr>
      <th scope="row">
        <code>{param.name}</code>
        {param.deprecated && <span className="api-fact"> deprecated</span>}
      </th>
      <td>{param.in}</td>
      <td>
        <TypeLine shape={shape} />
        {shape.values && shape.values.length > 0 && (
          <div className="api-values">
            One of {shape.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}
          </div>
        )}
      </td>
      <td>{param.required ? <span className="api-required">required</span> : <span className="hint">optional</span>}</td>
      <td>
        <Prose text={param.description ?? shape.description} />
      </td>
    </tr>
  );
}

function Contents({ doc, content }: { doc: OpenApiDoc; content: Media[] }) {
  if (content.length === 0) return <p className="hint">No body.</p>;
  return (
    <>
      {content.map((m) => (
        <div key={m.type} className="api-media">
          <p className="api-media-type">
            <code>{m.type}</code>
          </p>
          <SchemaTree doc={doc} schema={m.schema} />
        </div>
      ))}
    </>
  );
}

function statusClass(status: string): string {
  const first = status[0];
  return first === '2' || first === '3' || first === '4' || first === '5' ? `status-${first}xx` : 'status-other';
}

/** One answer: open by default when it is a success, closed for the errors. */
function AnswerEntry({ doc, answer, anchor }: { doc: OpenApiDoc; answer: Answer; anchor: string }) {
  const success = answer.status.startsWith('2');
  const [open, setOpen] = useState(success);
  const id = `${anchor}-answer-${answer.status}`;
  const first = answer.content[0];
  const summary = first ? shapeOf(doc, first.schema) : null;
  return (
    <li className="api-answer">
      <button type="button" className="api-toggle" aria-expanded={open} aria-controls={open ? id : undefined} onClick={() => setOpen(!open)}>
        <span className={`api-status ${statusClass(answer.status)}`}>{answer.status}</span>{' '}
        <span className="api-answer-desc">
          <Inline text={answer.description} />
        </span>{' '}
        {summary && <span className="api-ref">{summary.refName ?? summary.type}</span>}
      </button>
      {open && (
        <div id={id} className="api-answer-body">
          <Contents doc={doc} content={answer.content} />
        </div>
      )}
    </li>
  );
}
