// Namespaces and their administration: members and roles, robot tokens (the secret shown
// once), immutable-tag rules, retention policies with a dry-run preview, quota and usage, and
// webhooks (when this registry has them). Members read; owners and administrators change.
import { useState } from 'react';
import { ApiForm, DeleteButton } from './forms';
import { Link, NavLink, useParams } from 'react-router';
import { api, enc, formatBytes, formatTime, optional } from '../api';
import { CopyField, Denied, Empty, ErrorBox, Loading, useLoad } from '../components';
import { canManage, roleIn, useSession } from '../session';

interface NamespaceRow {
  name: string;
  visibility: string;
  createdAt: string;
  role: string | null;
}

export function NamespacesPage() {
  const { data, error, reload } = useLoad(() => api<{ namespaces: NamespaceRow[] }>('GET', '/api/v1/namespaces'), []);
  return (
    <>
      <h1>Namespaces</h1>
      <ApiForm
        label="Create a namespace"
        onSubmit={async (f) => {
          await api('POST', '/api/v1/namespaces', { name: f.get('name'), visibility: f.get('visibility') });
          reload();
        }}
      >
        <label>
          Name <input name="name" required />
        </label>
        <label>
          Visibility
          <select name="visibility" defaultValue="private">
            <option>private</option>
            <option>public</option>
          </select>
        </label>
        <button type="submit">Create namespace</button>
      </ApiForm>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data?.namespaces.length === 0 && <Empty title="You belong to no namespace yet.">Pushing to a repository named after your username creates yours.</Empty>}
      {data && data.namespaces.length > 0 && (
        <ul className="repo-list">
          {data.namespaces.map((n) => (
            <li key={n.name}>
              <Link className="repo-link" to={`/namespaces/${n.name}`}>
                <span className="repo-name">{n.name}</span>
                <span className="repo-meta">
                  {n.visibility} · {n.role ? `your role: ${n.role}` : 'not a member'}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

const TABS = [
  ['members', 'Members'],
  ['robots', 'Robot tokens'],
  ['immutable', 'Immutable tags'],
  ['retention', 'Retention'],
  ['quota', 'Quota'],
  ['webhooks', 'Webhooks'],
] as const;

export function NamespacePage() {
  const { namespace = '', tab = 'members' } = useParams();
  const { session } = useSession();
  const role = roleIn(session, namespace);
  if (!role) return <Denied />;
  const manage = canManage(session, namespace);
  const base = `/api/v1/namespaces/${enc(namespace)}`;
  return (
    <>
      <p className="crumbs">
        <Link to="/namespaces">Namespaces</Link>
      </p>
      <h1>{namespace}</h1>
      <p>
        <Link to={`/?namespace=${enc(namespace)}`}>Its repositories</Link> · your role: {role}
      </p>
      <nav className="tabs" aria-label="Namespace settings">
        {TABS.filter(([id]) => manage || (id !== 'robots' && id !== 'webhooks')).map(([id, label]) => (
          <NavLink key={id} to={`/namespaces/${namespace}/${id}`} end className={({ isActive }) => (isActive || (id === 'members' && tab === 'members') ? 'active' : '')}>
            {label}
          </NavLink>
        ))}
      </nav>
      {tab === 'members' && <Members base={base} manage={manage} />}
      {tab === 'robots' && manage && <Robots base={base} />}
      {tab === 'immutable' && <ImmutableRules base={base} manage={manage} />}
      {tab === 'retention' && <Retention base={base} manage={manage} />}
      {tab === 'quota' && <Quota base={base} />}
      {tab === 'webhooks' && manage && <Webhooks base={base} />}
    </>
  );
}

function Members({ base, manage }: { base: string; manage: boolean }) {
  const { data, error, reload } = useLoad(() => api<{ members: { username: string; role: string }[] }>('GET', `${base}/members`), [base]);
  return (
    <section>
      <h2>Members</h2>
      <ErrorBox error={error} />
      {data && (
        <ul className="plain">
          {data.members.map((m) => (
            <li key={m.username}>
              {m.username} <span className="badge">{m.role}</span>{' '}
              {manage && <DeleteButton path={`${base}/members/${enc(m.username)}`} onDone={reload} />}
            </li>
          ))}
        </ul>
      )}
      {manage && (
        <ApiForm
          label="Add a member"
          onSubmit={async (f) => {
            await api('PUT', `${base}/members/${enc(String(f.get('username')))}`, { role: f.get('role') });
            reload();
          }}
        >
          <label>
            Username <input name="username" required />
          </label>
          <label>
            Role
            <select name="role" defaultValue="reader">
              <option>reader</option>
              <option>developer</option>
              <option>maintainer</option>
              <option>owner</option>
            </select>
          </label>
          <button type="submit">Add or change</button>
        </ApiForm>
      )}
    </section>
  );
}

interface Robot {
  name: string;
  actions: string[];
  expiresAt: string | null;
  revoked: boolean;
  lastUsedAt: string | null;
}

function Robots({ base }: { base: string }) {
  const { data, error, reload } = useLoad(() => api<{ robots: Robot[] }>('GET', `${base}/robots`), [base]);
  const [created, setCreated] = useState<{ name: string; secret: string }>();
  return (
    <section>
      <h2>Robot tokens</h2>
      <p className="muted">For CI: a robot logs in with its name and secret, and may do only what it was given.</p>
      {created && (
        <div className="card secret" role="status">
          <p>
            <strong>Robot {created.name} created.</strong> Copy its secret now: it is shown only once.
          </p>
          <CopyField label="name" value={created.name} />
          <CopyField label="secret" value={created.secret} />
        </div>
      )}
      <ApiForm
        label="Create a robot token"
        onSubmit={async (f) => {
          const days = Number(f.get('days'));
          const robot = await api<{ name: string; secret: string }>('POST', `${base}/robots`, {
            name: f.get('name'),
            actions: f.getAll('actions'),
            ...(days > 0 ? { expiresInDays: days } : {}),
          });
          setCreated(robot);
          reload();
        }}
      >
        <label>
          Name <input name="name" required pattern="[a-z0-9]+([._-][a-z0-9]+)*" />
        </label>
        <fieldset>
          <legend>May</legend>
          {['pull', 'push', 'delete'].map((a) => (
            <label key={a} className="check">
              <input type="checkbox" name="actions" value={a} defaultChecked={a === 'pull'} /> {a}
            </label>
          ))}
        </fieldset>
        <label>
          Expires in days <input name="days" type="number" min="0" max="3650" defaultValue="90" />
        </label>
        <button type="submit" className="primary">
          Create
        </button>
      </ApiForm>
      <ErrorBox error={error} />
      {data?.robots.length === 0 && <Empty title="No robot tokens yet." />}
      {data && data.robots.length > 0 && (
        <ul className="plain">
          {data.robots.map((r) => (
            <li key={r.name}>
              <code>{r.name}</code> {r.actions.join(', ')} · {r.revoked ? 'revoked' : r.expiresAt ? `expires ${formatTime(r.expiresAt)}` : 'never expires'} · last used {formatTime(r.lastUsedAt)}{' '}
              {!r.revoked && <DeleteButton path={`${base}/robots/${enc(r.name)}`} label="Revoke" onDone={reload} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ImmutableRules({ base, manage }: { base: string; manage: boolean }) {
  const { data, error, reload } = useLoad(() => api<{ rules: { id: string; pattern: string; createdBy: string }[] }>('GET', `${base}/immutable-rules`), [base]);
  return (
    <section>
      <h2>Immutable tags</h2>
      <p className="muted">Tags matching these patterns can be pushed once and never moved or deleted.</p>
      <ErrorBox error={error} />
      {data?.rules.length === 0 && <Empty title="No rules: every tag may move." />}
      <ul className="plain">
        {data?.rules.map((r) => (
          <li key={r.id}>
            <code>{r.pattern}</code> <span className="muted">by {r.createdBy}</span>{' '}
            {manage && <DeleteButton path={`${base}/immutable-rules/${r.id}`} onDone={reload} />}
          </li>
        ))}
      </ul>
      {manage && (
        <ApiForm
          label="Add an immutable-tag rule"
          onSubmit={async (f) => {
            await api('POST', `${base}/immutable-rules`, { pattern: f.get('pattern') });
            reload();
          }}
        >
          <label>
            Tag pattern <input name="pattern" required placeholder="v*" />
          </label>
          <button type="submit">Add rule</button>
        </ApiForm>
      )}
    </section>
  );
}

interface Policy {
  id: string;
  repositories: string;
  rules: Record<string, unknown>;
  enabled: boolean;
  lastRunAt: string | null;
}
interface RunReport {
  dryRun: boolean;
  tagsRemoved: number;
  tagsKept: number;
  manifestsRemoved: number;
  removedTags: { repository: string; tag: string; reason: string }[];
}

function Retention({ base, manage }: { base: string; manage: boolean }) {
  const { data, error, reload } = useLoad(() => api<{ policies: Policy[] }>('GET', `${base}/retention-policies`), [base]);
  const [preview, setPreview] = useState<{ id: string; report: RunReport }>();
  const [runError, setRunError] = useState<Error>();
  const run = async (id: string, dryRun: boolean) => {
    setRunError(undefined);
    try {
      setPreview({ id, report: await api<RunReport>('POST', `${base}/retention-policies/${id}/run`, { dryRun }) });
      if (!dryRun) reload();
    } catch (err) {
      setRunError(err as Error);
    }
  };
  return (
    <section>
      <h2>Retention policies</h2>
      <ErrorBox error={error} />
      <ErrorBox error={runError} />
      {data?.policies.length === 0 && <Empty title="No retention policies: nothing is removed automatically." />}
      <ul className="plain">
        {data?.policies.map((p) => (
          <li key={p.id} className="card">
            <p>
              <strong>{p.repositories}</strong> · <code>{JSON.stringify(p.rules)}</code> · {p.enabled ? 'enabled' : 'disabled'} · last run {formatTime(p.lastRunAt)}
            </p>
            <button type="button" onClick={() => run(p.id, true)}>
              Preview (dry run)
            </button>{' '}
            {manage && (
              <button type="button" onClick={() => run(p.id, false)}>
                Run now
              </button>
            )}
            {preview?.id === p.id && (
              <div className="report" role="status">
                <p>
                  {preview.report.dryRun ? 'Would remove' : 'Removed'} {preview.report.tagsRemoved} tags and {preview.report.manifestsRemoved} manifests; keeps {preview.report.tagsKept} tags.
                </p>
                <ul className="plain mono">
                  {preview.report.removedTags.map((t) => (
                    <li key={`${t.repository}:${t.tag}`}>
                      {t.repository}:{t.tag} <span className="muted">({t.reason})</span>
                    </li>
                  ))}
                </ul>
              </div>
            )}
          </li>
        ))}
      </ul>
      {manage && (
        <ApiForm
          label="Add a retention policy"
          onSubmit={async (f) => {
            const rules: Record<string, unknown> = {};
            if (f.get('keepLatest')) rules['keepLatest'] = Number(f.get('keepLatest'));
            if (f.get('olderThanDays')) rules['olderThanDays'] = Number(f.get('olderThanDays'));
            if (f.get('untagged')) rules['untagged'] = true;
            await api('POST', `${base}/retention-policies`, { repositories: f.get('repositories') || '*', rules });
            reload();
          }}
        >
          <label>
            Repositories <input name="repositories" placeholder="*" />
          </label>
          <label>
            Keep latest <input name="keepLatest" type="number" min="0" />
          </label>
          <label>
            Older than days <input name="olderThanDays" type="number" min="0" />
          </label>
          <label className="check">
            <input type="checkbox" name="untagged" /> remove untagged
          </label>
          <button type="submit">Add policy</button>
        </ApiForm>
      )}
    </section>
  );
}

function Quota({ base }: { base: string }) {
  const admin = useSession().session.user?.admin === true;
  const { data, error, reload } = useLoad(
    () => api<{ limitBytes: number | null; usedBytes: number; limitRepositories: number | null; repositories: number }>('GET', `${base}/quota`),
    [base],
  );
  return (
    <section>
      <h2>Quota and usage</h2>
      <ErrorBox error={error} />
      {data && (
        <>
          <Usage label="Storage" used={data.usedBytes} limit={data.limitBytes} format={formatBytes} />
          <Usage label="Repositories" used={data.repositories} limit={data.limitRepositories} format={String} />
        </>
      )}
      {admin && (
        <ApiForm
          label="Set the quota"
          onSubmit={async (f) => {
            const limit = (name: string) => (f.get(name) ? Number(f.get(name)) : null);
            const gb = limit('limitGb');
            await api('PUT', `${base}/quota`, { limitBytes: gb === null ? null : Math.round(gb * 1e9), limitRepositories: limit('limitRepositories') });
            reload();
          }}
        >
          <label>
            Storage limit (GB) <input name="limitGb" type="number" min="0" step="any" />
          </label>
          <label>
            Repository limit <input name="limitRepositories" type="number" min="0" />
          </label>
          <button type="submit">Set limits</button>
        </ApiForm>
      )}
    </section>
  );
}

function Usage({ label, used, limit, format }: { label: string; used: number; limit: number | null; format: (n: number) => string }) {
  const pct = limit ? Math.min(100, Math.round((used / limit) * 100)) : 0;
  return (
    <div className="usage">
      <p>
        {label}: {format(used)} {limit !== null ? `of ${format(limit)} (${pct}%)` : '(no limit)'}
      </p>
      {limit !== null && <progress max={100} value={pct} aria-label={`${label} used`} />}
    </div>
  );
}

const EVENT_KINDS = ['push', 'pull', 'delete', 'scan.finished', 'quota.exceeded', 'replication.done'] as const;

interface WebhookRow {
  id: string;
  url: string;
  events: string[];
  repositories: string | null;
  enabled: boolean;
}

interface DeliveryRow {
  id: number;
  event: string;
  state: string;
  attempts: number;
  createdAt: string;
  lastAttemptAt: string | null;
  statusCode: number | null;
  durationMs: number | null;
  error: string | null;
}

/** Signed event notifications of the namespace (owners and administrators): add, ping, remove, and each one's delivery log. */
function Webhooks({ base }: { base: string }) {
  const { data, error, reload } = useLoad(() => optional<{ webhooks: WebhookRow[] }>(`${base}/webhooks`), [base]);
  const [secret, setSecret] = useState<string>();
  const [open, setOpen] = useState<string>();
  return (
    <section>
      <h2>Webhooks</h2>
      <ErrorBox error={error} />
      {data === null && <Empty title="Webhooks are not available on this registry." />}
      {data && data.webhooks.length === 0 && <Empty title="No webhooks.">Add one to be told of pushes, pulls, deletes and scan results.</Empty>}
      {data && data.webhooks.length > 0 && (
        <ul className="plain">
          {data.webhooks.map((w) => (
            <li key={w.id}>
              <code>{w.url}</code> <span className="muted">{w.events.join(', ')}{w.repositories ? ` · ${w.repositories}` : ''}{w.enabled ? '' : ' · disabled'}</span>{' '}
              <button type="button" onClick={() => setOpen(open === w.id ? undefined : w.id)} aria-expanded={open === w.id}>
                Deliveries
              </button>{' '}
              <button type="button" onClick={() => api('POST', `${base}/webhooks/${w.id}/ping`).then(() => setOpen(w.id), () => setOpen(w.id))}>
                Ping
              </button>{' '}
              <DeleteButton path={`${base}/webhooks/${w.id}`} onDone={reload} />
              {open === w.id && <Deliveries path={`${base}/webhooks/${w.id}/deliveries`} />}
            </li>
          ))}
        </ul>
      )}
      {data && (
        <ApiForm
          label="Add a webhook"
          onSubmit={async (f) => {
            const events = EVENT_KINDS.filter((k) => f.get(`event-${k}`) === 'on');
            const repositories = String(f.get('repositories') ?? '').trim();
            const created = await api<{ secret: string }>('POST', `${base}/webhooks`, { url: String(f.get('url') ?? ''), events, ...(repositories ? { repositories } : {}) });
            setSecret(created.secret);
            reload();
          }}
        >
          <label>
            URL <input name="url" type="url" required placeholder="https://ci.example.com/hooks/registry" />
          </label>
          <fieldset>
            <legend>Events</legend>
            {EVENT_KINDS.map((k) => (
              <label key={k}>
                <input type="checkbox" name={`event-${k}`} defaultChecked={k === 'push'} /> {k}
              </label>
            ))}
          </fieldset>
          <label>
            Repositories <input name="repositories" placeholder="all (or a glob)" />
          </label>
          <button type="submit">Add webhook</button>
        </ApiForm>
      )}
      {secret && (
        <p role="status">
          Signing secret (shown once): <code>{secret}</code>
        </p>
      )}
    </section>
  );
}

function Deliveries({ path }: { path: string }) {
  const { data, error, reload } = useLoad(() => api<{ deliveries: DeliveryRow[] }>('GET', path), [path]);
  return (
    <div className="table-wrap">
      <ErrorBox error={error} />
      <button type="button" onClick={reload}>
        Refresh
      </button>
      {data && data.deliveries.length === 0 && <p className="muted">No deliveries yet.</p>}
      {data && data.deliveries.length > 0 && (
        <table aria-label="Deliveries">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">State</th>
              <th scope="col">Answer</th>
              <th scope="col">Attempts</th>
              <th scope="col">Queued</th>
            </tr>
          </thead>
          <tbody>
            {data.deliveries.map((d) => (
              <tr key={d.id}>
                <td>{d.event}</td>
                <td>{d.state}</td>
                <td>{d.statusCode ?? d.error ?? '—'}{d.durationMs !== null ? ` (${d.durationMs} ms)` : ''}</td>
                <td>{d.attempts}</td>
                <td>{formatTime(d.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
