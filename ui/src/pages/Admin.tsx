// Administrator pages: users, the audit log, and the state of background work (scan queue,
// vulnerability database). The API refuses them to anyone else; the UI does not offer them.
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, enc, formatBytes, formatTime, optional } from '../api';
import { Denied, Empty, ErrorBox, Loading, useLoad } from '../components';
import { useSession } from '../session';
import { ApiForm } from './forms';

function useAdmin(): boolean {
  return useSession().session.user?.admin === true;
}

export function UsersPage() {
  const admin = useAdmin();
  const me = useSession().session.user?.name;
  const { data, error, reload } = useLoad(
    () => (admin ? api<{ users: { username: string; admin: boolean; disabled: boolean; createdAt: string }[] }>('GET', '/api/v1/users') : Promise.resolve(undefined)),
    [admin],
  );
  if (!admin) return <Denied />;
  return (
    <>
      <h1>Users</h1>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      <ul className="plain">
        {data?.users.map((u) => (
          <li key={u.username}>
            {u.username} {u.admin && <span className="badge">admin</span>} {u.disabled && <span className="badge warn">disabled</span>}{' '}
            <span className="muted">since {formatTime(u.createdAt)}</span>{' '}
            {u.username !== me && (
              <button type="button" onClick={() => api('PATCH', `/api/v1/users/${enc(u.username)}`, { disabled: !u.disabled }).then(reload, reload)}>
                {u.disabled ? 'Enable' : 'Disable'}
              </button>
            )}
          </li>
        ))}
      </ul>
      <ApiForm
        label="Create a user"
        onSubmit={async (f) => {
          await api('POST', '/api/v1/users', { username: f.get('username'), password: f.get('password'), admin: f.get('admin') === 'on' });
          reload();
        }}
      >
        <label>
          Username <input name="username" required />
        </label>
        <label>
          Password <input name="password" type="password" required minLength={8} autoComplete="new-password" />
        </label>
        <label className="check">
          <input type="checkbox" name="admin" /> administrator
        </label>
        <button type="submit">Create user</button>
      </ApiForm>
    </>
  );
}

interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  source: string | null;
  repository: string | null;
  reference: string | null;
  detail: Record<string, unknown> | null;
}

export function AuditPage() {
  const admin = useAdmin();
  const [params] = useSearchParams();
  const [filter, setFilter] = useState({ actor: params.get('actor') ?? '', action: params.get('action') ?? '' });
  const [before, setBefore] = useState<number>();
  const query = new URLSearchParams({ limit: '50' });
  if (filter.actor) query.set('actor', filter.actor);
  if (filter.action) query.set('action', filter.action);
  if (before) query.set('before', String(before));
  const { data, error } = useLoad(
    () => (admin ? api<{ events: AuditEvent[]; next?: string }>('GET', `/api/v1/audit?${query.toString()}`) : Promise.resolve(undefined)),
    [admin, filter.actor, filter.action, before],
  );
  if (!admin) return <Denied />;
  return (
    <>
      <h1>Audit log</h1>
      <div className="toolbar">
        <label>
          Actor <input name="actor" defaultValue={filter.actor} onChange={(e) => (setBefore(undefined), setFilter({ ...filter, actor: e.target.value }))} />
        </label>
        <label>
          Action <input name="action" defaultValue={filter.action} placeholder="login, push, robot.create…" onChange={(e) => (setBefore(undefined), setFilter({ ...filter, action: e.target.value }))} />
        </label>
      </div>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data?.events.length === 0 && <Empty title="No events match." />}
      {data && data.events.length > 0 && (
        <div className="table-wrap">
          <table aria-label="Audit events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {data.events.map((e) => (
                <tr key={e.id}>
                  <td>{formatTime(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>{e.repository ? `${e.repository}${e.reference ? `:${e.reference}` : ''}` : e.detail ? <code>{JSON.stringify(e.detail).slice(0, 120)}</code> : '–'}</td>
                  <td>{e.source ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={!before} onClick={() => setBefore(undefined)}>
          Newest
        </button>
        <button type="button" disabled={!data?.next} onClick={() => setBefore(data!.events[data!.events.length - 1]!.id)}>
          Older
        </button>
      </nav>
    </>
  );
}

export function SystemPage() {
  const admin = useAdmin();
  const { data, error } = useLoad(
    () =>
      admin
        ? optional<{ queue: { queued: number; running: number; oldestEnqueuedAt: string | null }; vulnerabilityDatabase: { version?: number; lastImportAt: string | null } }>('/api/v1/scans/queue')
        : Promise.resolve(undefined),
    [admin],
  );
  if (!admin) return <Denied />;
  return (
    <>
      <h1>System</h1>
      <h2>Image scanning</h2>
      <ErrorBox error={error} />
      {data === null && <Empty title="Scanning is not available on this registry." />}
      {data && (
        <dl className="facts">
          <dt>Queued</dt>
          <dd>{data.queue.queued}</dd>
          <dt>Running</dt>
          <dd>{data.queue.running}</dd>
          <dt>Oldest waiting since</dt>
          <dd>{formatTime(data.queue.oldestEnqueuedAt)}</dd>
          <dt>Vulnerability database imported</dt>
          <dd>{formatTime(data.vulnerabilityDatabase.lastImportAt)}</dd>
        </dl>
      )}
      <GarbageCollection />
    </>
  );
}

interface GcRun {
  dryRun: boolean;
  blobsDeleted: number;
  bytesFreed: number;
  manifestsDeleted: number;
  uploadsPurged: number;
  durationMs: number;
}

function GarbageCollection() {
  const { data, error, reload } = useLoad(() => optional<{ intervalMs: number; reviewDelayMs: number; unrecordedScanIntervalMs: number; lastRun: (GcRun & { at: string }) | null }>('/api/v1/gc'), []);
  const [preview, setPreview] = useState<GcRun>();
  const [failure, setFailure] = useState<Error>();
  const run = (dryRun: boolean) => {
    setFailure(undefined);
    api<GcRun>('POST', '/api/v1/gc', { dryRun }).then(
      (r) => {
        setPreview(r);
        if (!dryRun) reload();
      },
      (err: Error) => setFailure(err),
    );
  };
  return (
    <section>
      <h2>Garbage collection</h2>
      <ErrorBox error={error ?? failure} />
      {data && (
        <dl className="facts">
          <dt>Schedule</dt>
          <dd>{data.intervalMs > 0 ? `every ${Math.round(data.intervalMs / 60_000)} min` : 'on demand only'}</dd>
          <dt>Review delay</dt>
          <dd>{Math.round(data.reviewDelayMs / 3_600_000)} h</dd>
          <dt>Store listed for unrecorded bytes</dt>
          <dd>{data.unrecordedScanIntervalMs > 0 ? `at most every ${Math.round(data.unrecordedScanIntervalMs / 3_600_000)} h (cluster-wide)` : 'every run'}</dd>
          <dt>Last run on this node</dt>
          <dd>{data.lastRun ? `${formatTime(data.lastRun.at)}: ${data.lastRun.blobsDeleted} blobs, ${formatBytes(data.lastRun.bytesFreed)} freed` : 'none since start'}</dd>
        </dl>
      )}
      <button type="button" onClick={() => run(true)}>
        Preview (dry run)
      </button>{' '}
      <button type="button" onClick={() => run(false)}>
        Collect now
      </button>
      {preview && (
        <p role="status">
          {preview.dryRun ? 'Would delete' : 'Deleted'} {preview.blobsDeleted} blobs ({formatBytes(preview.bytesFreed)}) and {preview.manifestsDeleted} manifests in {preview.durationMs} ms.
        </p>
      )}
    </section>
  );
}
