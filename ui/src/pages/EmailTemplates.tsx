// Email templates: list, create, edit with a preview rendered by the host, delete.

import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { emailTemplates as api } from '../api/api';
import { ApiError, messageOf } from '../api/client';
import type { EmailTemplate, FieldError, Json, RenderedEmail } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { RoleButton, RoleLink, RoleNote } from '../components/RoleButton';
import { NEEDS } from '../api/roles';
import { Notices } from '../components/Notices';

export function TemplatesPage() {
  const [list, setList] = useState<EmailTemplate[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .list()
      .then(setList)
      .catch((e) => setError(messageOf(e)));
  }, []);
  return (
    <section aria-labelledby="templates-title">
      <div className="page-head">
        <h1 id="templates-title">Email templates</h1>
        <RoleLink className="button primary" to="/email-templates/new" need={NEEDS.createTemplate}>
          New template
        </RoleLink>
      </div>
      <Notices error={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Slug</th>
            <th scope="col">Subject</th>
            <th scope="col">Parts</th>
          </tr>
        </thead>
        <tbody>
          {list?.map((t) => (
            <tr key={t.slug}>
              <td>
                <Link to={`/email-templates/${t.slug}`}>{t.slug}</Link>
              </td>
              <td>{t.subject}</td>
              <td>{[t.text ? 'text' : null, t.html ? 'HTML' : null].filter(Boolean).join(', ') || '—'}</td>
            </tr>
          ))}
          {list && list.length === 0 && (
            <tr>
              <td colSpan={3} className="hint">
                No templates yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

/** The template this page created last, not to be fetched again (that
 * answer could overwrite what was typed since). */
let justCreated: EmailTemplate | null = null;

const SAMPLE = JSON.stringify({ event: { email: 'ada@example.com', name: 'Ada' } }, null, 2);

export function TemplatePage() {
  const { slug } = useParams();
  const isNew = !slug;
  const navigate = useNavigate();
  const [t, setT] = useState<EmailTemplate>({ slug: '', subject: '', text: '', html: '' });
  const [loaded, setLoaded] = useState(isNew);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const [sample, setSample] = useState(SAMPLE);
  const [preview, setPreview] = useState<RenderedEmail | null>(null);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);

  useEffect(() => {
    if (!slug) return;
    if (justCreated?.slug === slug) {
      const x = justCreated;
      justCreated = null;
      setT((cur) => (cur.slug === x.slug ? cur : { slug: x.slug, subject: x.subject, text: x.text ?? '', html: x.html ?? '' }));
      setLoaded(true);
      return;
    }
    api
      .show(slug)
      .then((x) => {
        setT({ slug: x.slug, subject: x.subject, text: x.text ?? '', html: x.html ?? '' });
        setLoaded(true);
      })
      .catch((e) => setNotice({ ok: false, text: messageOf(e) }));
  }, [slug]);

  const fieldErrors = (f: string) => errors.filter((e) => e.field === f);
  const body = () => ({ subject: t.subject, text: t.text || null, html: t.html || null });
  const fail = (e: unknown) => {
    if (e instanceof ApiError && Array.isArray(e.details)) setErrors(e.details as FieldError[]);
    else if (e instanceof ApiError && e.details && typeof e.details === 'object' && 'field' in e.details)
      setErrors([e.details as FieldError]);
    setNotice({ ok: false, text: messageOf(e) });
  };
  const save = async () => {
    setErrors([]);
    setNotice(null);
    try {
      if (isNew) {
        const c = await api.create({ slug: t.slug, ...body() });
        justCreated = c;
        navigate(`/email-templates/${c.slug}`, { replace: true });
        setNotice({ ok: true, text: 'Created.' });
      } else {
        await api.update(slug!, body());
        setNotice({ ok: true, text: 'Saved.' });
      }
    } catch (e) {
      fail(e);
    }
  };
  const renderPreview = async () => {
    setPreviewError(null);
    let data: Json;
    try {
      data = JSON.parse(sample);
    } catch (e) {
      setPreviewError(`Sample data is not JSON: ${messageOf(e)}`);
      return;
    }
    try {
      setPreview(await api.preview({ ...body(), data }));
      setErrors([]);
    } catch (e) {
      setPreview(null);
      if (e instanceof ApiError && Array.isArray(e.details)) setErrors(e.details as FieldError[]);
      setPreviewError(messageOf(e));
    }
  };
  const Errors = ({ f }: { f: string }) =>
    fieldErrors(f).length ? (
      <div role="alert">
        <ul className="field-errors">
          {fieldErrors(f).map((e, i) => (
            <li key={i}>{e.message}</li>
          ))}
        </ul>
      </div>
    ) : null;

  if (!loaded) return <p className="hint">{notice?.text ?? 'Loading…'}</p>;
  return (
    <div className="template-page">
      <div className="page-head">
        <h1>{isNew ? 'New email template' : `Email template ${slug}`}</h1>
        <Link to="/email-templates">All templates</Link>
      </div>
      {notice && (
        <p className={`notice ${notice.ok ? 'is-ok' : 'is-error'}`} role={notice.ok ? 'status' : 'alert'}>
          {notice.text}
        </p>
      )}
      <div className="two-columns">
        <form
          className="card"
          aria-label="Template"
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
        >
          {isNew && (
            <div className="field">
              <label htmlFor="tpl-slug">Slug</label>
              <input id="tpl-slug" value={t.slug} onChange={(e) => setT({ ...t, slug: e.target.value })} />
              <Errors f="slug" />
            </div>
          )}
          <div className="field">
            <label htmlFor="tpl-subject">Subject</label>
            <input id="tpl-subject" value={t.subject} onChange={(e) => setT({ ...t, subject: e.target.value })} />
            <Errors f="subject" />
          </div>
          <div className="field">
            <label htmlFor="tpl-text">Text body</label>
            <textarea id="tpl-text" className="mono" rows={8} value={t.text ?? ''} onChange={(e) => setT({ ...t, text: e.target.value })} />
            <Errors f="text" />
          </div>
          <div className="field">
            <label htmlFor="tpl-html">HTML body</label>
            <textarea id="tpl-html" className="mono" rows={8} value={t.html ?? ''} onChange={(e) => setT({ ...t, html: e.target.value })} />
            <Errors f="html" />
          </div>
          <div className="actions">
            <RoleButton
              type="submit"
              className="primary"
              need={isNew ? NEEDS.createTemplate : NEEDS.saveTemplate}
              noteId="tpl-role-note"
            >
              {isNew ? 'Create' : 'Save'}
            </RoleButton>
            {!isNew && (
              <RoleButton
                type="button"
                className="danger"
                need={NEEDS.deleteTemplate}
                noteId="tpl-role-note"
                onClick={() => setConfirm(true)}
              >
                Delete
              </RoleButton>
            )}
            <RoleNote need={NEEDS.saveTemplate} id="tpl-role-note" />
          </div>
        </form>
        <section className="card" aria-labelledby="preview-title">
          <h2 id="preview-title">Preview</h2>
          <div className="field">
            <label htmlFor="tpl-sample">Sample data (JSON)</label>
            <textarea id="tpl-sample" className="mono" rows={6} value={sample} onChange={(e) => setSample(e.target.value)} />
          </div>
          <button type="button" onClick={renderPreview}>
            Render preview
          </button>
          {previewError && (
            <p className="field-errors" role="alert">
              {previewError}
            </p>
          )}
          {preview && (
            <div className="preview" aria-live="polite">
              <h3>Subject</h3>
              <p className="preview-subject">{preview.subject}</p>
              {preview.text !== null && (
                <>
                  <h3>Text</h3>
                  <pre className="preview-text">{preview.text}</pre>
                </>
              )}
              {preview.html !== null && (
                <>
                  <h3>HTML (source, as rendered by the host)</h3>
                  <pre className="preview-html">{preview.html}</pre>
                </>
              )}
            </div>
          )}
        </section>
      </div>
      {confirm && (
        <ConfirmDialog
          title={`Delete template ${slug}?`}
          body="Email steps that name it will fail."
          action="Delete"
          onClose={() => setConfirm(false)}
          onConfirm={async () => {
            await api.remove(slug!);
            navigate('/email-templates');
          }}
        />
      )}
    </div>
  );
}
