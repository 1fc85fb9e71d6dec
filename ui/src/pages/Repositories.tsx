// Every repository the user may pull: search, namespace filter, sort, pages of 50, and arrow
// keys to move through the list.
import { useRef, type KeyboardEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, enc, formatTime, type RepositoryRow } from '../api';
import { Empty, ErrorBox, Loading, useLoad } from '../components';

const PAGE = 50;

export function RepositoriesPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const sort = params.get('sort') ?? 'name';
  const namespace = params.get('namespace') ?? '';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const { data, error } = useLoad(
    () =>
      api<{ total: number; repositories: RepositoryRow[] }>(
        'GET',
        `/api/v1/repositories?limit=${PAGE}&offset=${offset}&sort=${enc(sort)}${q ? `&q=${enc(q)}` : ''}${namespace ? `&namespace=${enc(namespace)}` : ''}`,
      ),
    [q, sort, offset, namespace],
  );
  const list = useRef<HTMLUListElement>(null);
  const set = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) (v ? next.set(k, v) : next.delete(k));
    if (!('offset' in changes)) next.delete('offset');
    setParams(next, { replace: true });
  };
  // Up and down move between the repositories of the list (Tab still leaves it).
  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const links = [...(list.current?.querySelectorAll<HTMLAnchorElement>('a.repo-link') ?? [])];
    const at = links.indexOf(document.activeElement as HTMLAnchorElement);
    const next = links[Math.max(0, Math.min(links.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)))];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  };

  return (
    <>
      <h1>Repositories</h1>
      <div className="toolbar" role="search">
        <label>
          Search
          <input type="search" name="q" defaultValue={q} placeholder="name contains…" onChange={(e) => set({ q: e.target.value })} />
        </label>
        {namespace && (
          <span className="badge">
            namespace {namespace}{' '}
            <button type="button" onClick={() => set({ namespace: '' })} aria-label="Clear the namespace filter">
              ×
            </button>
          </span>
        )}
        <label>
          Sort
          <select value={sort} onChange={(e) => set({ sort: e.target.value })}>
            <option value="name">Name A–Z</option>
            <option value="-name">Name Z–A</option>
            <option value="-updated">Recently updated</option>
            <option value="-tags">Most tags</option>
          </select>
        </label>
      </div>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data && data.total === 0 && (
        <Empty title={q ? `No repository matches “${q}”.` : 'No repositories yet.'}>
          {!q && (
            <p>
              Push an image to create one: <code>docker push {window.location.host}/&lt;namespace&gt;/&lt;name&gt;:&lt;tag&gt;</code>
            </p>
          )}
        </Empty>
      )}
      {data && data.total > 0 && (
        <>
          <p className="muted" aria-live="polite">
            {offset + 1}–{offset + data.repositories.length} of {data.total}
          </p>
          <ul className="repo-list" ref={list} onKeyDown={onKeyDown} aria-label="Repositories">
            {data.repositories.map((r) => (
              <li key={r.name}>
                <Link className="repo-link" to={`/r/${r.name}`}>
                  <span className="repo-name">{r.name}</span>
                  <span className="repo-meta">
                    {r.tagCount} {r.tagCount === 1 ? 'tag' : 'tags'} · updated {formatTime(r.updatedAt)}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={offset === 0} onClick={() => set({ offset: String(Math.max(0, offset - PAGE)) })}>
              Previous
            </button>
            <button type="button" disabled={offset + PAGE >= data.total} onClick={() => set({ offset: String(offset + PAGE) })}>
              Next
            </button>
          </nav>
        </>
      )}
    </>
  );
}
