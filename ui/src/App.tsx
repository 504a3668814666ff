// Routes and the page frame. The editor, the run page (the graph and
// CodeMirror) and the API reference load lazily, so the first load stays small.

import { Suspense, lazy, useEffect, useState } from 'react';
import { BrowserRouter, NavLink, Navigate, Outlet, Route, Routes, useLocation, useNavigate } from 'react-router';
import { session } from './api/api';
import { setUnauthorizedHandler } from './api/client';
import { SignIn } from './pages/SignIn';
import { Dashboard } from './pages/Dashboard';
import { RunsPage } from './pages/Runs';
import { ApprovalsPage } from './pages/Approvals';
import { PluginsPage } from './pages/Plugins';
import { TemplatesPage, TemplatePage } from './pages/EmailTemplates';
import { TokensPage } from './pages/Tokens';
import { SecretsPage } from './pages/Secrets';
import { AuditPage } from './pages/Audit';
import { NEEDS, includes, useWho } from './api/roles';

const Editor = lazy(() => import('./editor/Editor'));
const RunPage = lazy(() => import('./run/RunPage'));
const ApiDocs = lazy(() => import('./apidocs/ApiDocs'));

type Auth = 'unknown' | 'yes' | 'no';

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const who = useWho((s) => s.who);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <span className="brand" aria-hidden="true">
          Weft
        </span>
        <nav aria-label="Main">
          <ul>
            <li>
              <NavLink to="/" end>
                Dashboard
              </NavLink>
            </li>
            <li>
              <NavLink to="/runs">Runs</NavLink>
            </li>
            <li>
              <NavLink to="/approvals">Approvals</NavLink>
            </li>
            <li>
              <NavLink to="/plugins">Plugins</NavLink>
            </li>
            <li>
              <NavLink to="/email-templates">Email templates</NavLink>
            </li>
            {who && includes(who.role, NEEDS.listTokens) && (
              <li>
                <NavLink to="/tokens">Tokens</NavLink>
              </li>
            )}
            {who && includes(who.role, NEEDS.listSecrets) && (
              <li>
                <NavLink to="/secrets">Secrets</NavLink>
              </li>
            )}
            {who && includes(who.role, NEEDS.listAudit) && (
              <li>
                <NavLink to="/audit">Audit log</NavLink>
              </li>
            )}
            <li>
              <NavLink to="/api-docs">API</NavLink>
            </li>
          </ul>
        </nav>
        {who && (
          <p className="whoami">
            <span className="visually-hidden">Signed in as </span>
            <span className="whoami-name">{who.name}</span>{' '}
            <span className="badge role-badge">
              <span className="visually-hidden">role </span>
              {who.role}
            </span>
          </p>
        )}
        <button type="button" className="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main">
        <Suspense fallback={<p className="hint">Loading…</p>}>
          <Outlet />
        </Suspense>
      </main>
    </>
  );
}

function Routed() {
  const [auth, setAuth] = useState<Auth>('unknown');
  const navigate = useNavigate();
  const location = useLocation();

  const setWho = useWho((s) => s.set);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setWho(null);
      setAuth('no');
    });
    session.check().then((who) => {
      setWho(who);
      setAuth(who ? 'yes' : 'no');
    });
  }, [setWho]);

  if (auth === 'unknown') return <p className="hint">Loading…</p>;
  if (auth === 'no' && location.pathname !== '/signin') {
    const next = location.pathname + location.search;
    return <Navigate to={`/signin${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />;
  }
  const signOut = async () => {
    try {
      await session.signOut();
    } finally {
      setWho(null);
      setAuth('no');
      navigate('/signin', { replace: true });
    }
  };
  return (
    <Routes>
      <Route path="/signin" element={<SignIn
            onSignedIn={async () => {
              const who = await session.check();
              setWho(who);
              setAuth(who ? 'yes' : 'no');
            }}
          />} />
      <Route element={<Shell onSignOut={signOut} />}>
        <Route index element={<Dashboard />} />
        <Route path="workflows/new" element={<Editor />} />
        <Route path="workflows/:id" element={<Editor />} />
        <Route path="runs" element={<RunsPage />} />
        <Route path="runs/:id" element={<RunPage />} />
        <Route path="approvals" element={<ApprovalsPage />} />
        <Route path="plugins" element={<PluginsPage />} />
        <Route path="email-templates" element={<TemplatesPage />} />
        <Route path="email-templates/new" element={<TemplatePage />} />
        <Route path="email-templates/:slug" element={<TemplatePage />} />
        <Route path="tokens" element={<TokensPage />} />
        <Route path="secrets" element={<SecretsPage />} />
        <Route path="audit" element={<AuditPage />} />
        {/* Not under /api/: the host answers those paths itself, never with the page. */}
        <Route path="api-docs" element={<ApiDocs />} />
        <Route
          path="*"
          element={
            <section>
              <h1>Not found</h1>
              <p>No page here.</p>
            </section>
          }
        />
      </Route>
    </Routes>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <Routed />
    </BrowserRouter>
  );
}
