import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { session } from '../api/api';
import { ApiError, messageOf } from '../api/client';

export function SignIn({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await session.signIn(token);
      setToken('');
      await onSignedIn();
      const next = params.get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not right.' : messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" className="signin">
      <form onSubmit={submit} className="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Weft</h1>
        <p className="hint">Use an API token of the host (the admin token WEFT_ADMIN_TOKEN, or one made on the Tokens page). The page keeps only a session cookie.</p>
        <div className="field">
          <label htmlFor="token">API token</label>
          <input
            id="token"
            type="password"
            autoComplete="current-password"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            required
          />
        </div>
        {error && (
          <p className="field-errors" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || !token}>
          Sign in
        </button>
      </form>
    </main>
  );
}
