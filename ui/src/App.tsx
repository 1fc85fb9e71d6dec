// The shell: session loading, the login page, the navigation (admin links only for those the
// API would let in), and the routes.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Link, NavLink, Navigate, Route, Routes, useLocation, useNavigate, useParams } from 'react-router';
import { api, ApiError, setCsrfToken, type SessionInfo } from './api';
import { SessionContext, useSession } from './session';
import { ErrorBox, Loading } from './components';
import { RepositoriesPage } from './pages/Repositories';
import { RepositoryPage } from './pages/Repository';
import { ManifestPage } from './pages/Manifest';
import { NamespacesPage, NamespacePage } from './pages/Namespaces';
import { AuditPage, SystemPage, UsersPage } from './pages/Admin';
import { AccountPage, CodeInput, explainCodeError } from './pages/Account';

export function App() {
  const [session, setSession] = useState<SessionInfo>();
  const [error, setError] = useState<Error>();
  const refresh = useCallback(async () => {
    try {
      const s = await api<SessionInfo>('GET', '/api/v1/session');
      setCsrfToken(s.csrfToken);
      setSession(s);
    } catch (e) {
      setError(e as Error);
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  if (error) return <ErrorBox error={error} />;
  if (!session) return <Loading />;
  return (
    <SessionContext.Provider value={{ session, refresh }}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        {session.authEnabled && !session.user ? (
          <LoginPage />
        ) : session.mustEnrolSecondFactor ? (
          // Every other page would be refused until a second factor is set up.
          <Routes>
            <Route path="/account" element={<AccountPage />} />
            <Route path="*" element={<Navigate to="/account" replace />} />
          </Routes>
        ) : (
          <Routes>
            <Route path="/" element={<RepositoriesPage />} />
            <Route path="/r/*" element={<RepositoryRoute />} />
            <Route path="/namespaces" element={<NamespacesPage />} />
            <Route path="/namespaces/:namespace/:tab?" element={<NamespacePage />} />
            <Route path="/admin/users" element={<UsersPage />} />
            <Route path="/admin/audit" element={<AuditPage />} />
            <Route path="/admin/system" element={<SystemPage />} />
            <Route path="/account" element={<AccountPage />} />
            <Route path="/login" element={<Navigate to="/" replace />} />
            <Route path="*" element={<p>Nothing here. <Link to="/">Back to the repositories</Link></p>} />
          </Routes>
        )}
      </main>
    </SessionContext.Provider>
  );
}

/** `/r/<name>` is a repository, `/r/<name>/-/<reference>` one of its manifests. */
function RepositoryRoute() {
  const rest = useParams()['*'] ?? '';
  const at = rest.indexOf('/-/');
  if (at === -1) return <RepositoryPage name={rest} />;
  return <ManifestPage name={rest.slice(0, at)} reference={rest.slice(at + 3)} />;
}

function Header() {
  const { session, refresh } = useSession();
  const navigate = useNavigate();
  const logout = async () => {
    await api('DELETE', '/api/v1/session').catch(() => undefined);
    setCsrfToken(null);
    await refresh();
    navigate('/');
  };
  const user = session.user;
  return (
    <header className="top">
      <Link to="/" className="brand">
        Registry
      </Link>
      {(!session.authEnabled || user) && !session.mustEnrolSecondFactor && (
        <nav aria-label="Main">
          <NavLink to="/" end>
            Repositories
          </NavLink>
          {user && <NavLink to="/namespaces">Namespaces</NavLink>}
          {user?.admin && (
            <>
              <NavLink to="/admin/users">Users</NavLink>
              <NavLink to="/admin/audit">Audit log</NavLink>
              <NavLink to="/admin/system">System</NavLink>
            </>
          )}
        </nav>
      )}
      <div className="who">
        {!session.authEnabled && <span className="badge warn">Access control is off: anyone can read and push. Read-only view.</span>}
        {user && (
          <>
            <span>
              {user.name}
              {user.admin ? ' (admin)' : ''}
            </span>
            <NavLink to="/account">Account</NavLink>
            <button type="button" onClick={logout}>
              Log out
            </button>
          </>
        )}
      </div>
    </header>
  );
}

function LoginPage() {
  const { refresh } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  // The server asked for a second-factor code: the form grows a field for it.
  const [askCode, setAskCode] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      const otp = form.get('code');
      await api('POST', '/api/v1/session', { username: form.get('username'), password: form.get('password'), ...(otp ? { otp: String(otp).trim() } : {}) });
      await refresh();
      navigate(location.pathname === '/login' ? '/' : location.pathname + location.search);
    } catch (err) {
      if (err instanceof ApiError && err.secondFactor === 'totp' && !askCode) setAskCode(true);
      else setError(err instanceof ApiError && err.status === 401 && !err.secondFactor ? new Error('Wrong username or password.') : (explainCodeError(err) as Error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="login card" onSubmit={submit} aria-label="Log in">
      <h1>Log in</h1>
      <p className="muted">Use your registry account (robot tokens are for clients, not for this page).</p>
      <label>
        Username
        <input name="username" autoComplete="username" required autoFocus />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" required />
      </label>
      {askCode && (
        <>
          <p className="muted">This account uses two-factor authentication: enter the code from your authenticator app, or one of your recovery codes.</p>
          <CodeInput autoFocus />
        </>
      )}
      <ErrorBox error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Logging in…' : 'Log in'}
      </button>
      <SingleSignOn />
    </form>
  );
}

/** The single sign-on button, when the registry has an identity provider (a plain link: the provider's pages are a full navigation). */
function SingleSignOn() {
  const [sso, setSso] = useState<{ displayName: string; loginUrl: string }>();
  useEffect(() => {
    api<{ enabled: boolean; displayName?: string; loginUrl?: string; webLogin?: boolean }>('GET', '/api/v1/oidc').then(
      (info) => info.enabled && info.webLogin && info.displayName && info.loginUrl && setSso({ displayName: info.displayName, loginUrl: info.loginUrl }),
      () => undefined,
    );
  }, []);
  if (!sso) return null;
  return (
    <p className="sso">
      <a className="button" href={sso.loginUrl}>
        Log in with {sso.displayName}
      </a>
    </p>
  );
}
