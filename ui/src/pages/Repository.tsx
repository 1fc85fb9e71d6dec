// One repository: its tags with digest, size, platforms, who pushed when, and pulls.
import { useState } from 'react';
import { Link } from 'react-router';
import { api, enc, formatBytes, formatTime, shortDigest, type TagRow } from '../api';
import { Empty, ErrorBox, Loading, PullCommands, useLoad } from '../components';

export function RepositoryPage({ name }: { name: string }) {
  const [last, setLast] = useState<string | undefined>();
  const { data, error } = useLoad(
    () => api<{ tags: TagRow[]; next?: string }>('GET', `/api/v1/repositories/${name}/tags?limit=50${last ? `&last=${enc(last)}` : ''}`),
    [name, last],
  );
  const namespace = name.split('/')[0]!;
  return (
    <>
      <p className="crumbs">
        <Link to="/">Repositories</Link> / <Link to={`/?namespace=${enc(namespace)}`}>{namespace}</Link>
      </p>
      <h1>{name}</h1>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data && data.tags.length === 0 && <Empty title="No tags.">Its manifests are untagged; push a tag to see it here.</Empty>}
      {data && data.tags.length > 0 && (
        <>
          <PullCommands repository={name} reference={data.tags[0]!.tag} />
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Tags of {name}</caption>
              <thead>
                <tr>
                  <th scope="col">Tag</th>
                  <th scope="col">Digest</th>
                  <th scope="col">Size</th>
                  <th scope="col">Platforms</th>
                  <th scope="col">Pushed</th>
                  <th scope="col">Last pulled</th>
                  <th scope="col">Pulls</th>
                </tr>
              </thead>
              <tbody>
                {data.tags.map((t) => (
                  <tr key={t.tag}>
                    <td>
                      <Link to={`/r/${name}/-/${t.tag}`}>{t.tag}</Link>
                    </td>
                    <td>
                      <Link to={`/r/${name}/-/${t.digest}`}>
                        <code>{shortDigest(t.digest)}</code>
                      </Link>
                    </td>
                    <td>{formatBytes(t.size)}</td>
                    <td>{t.platforms.join(', ') || '–'}</td>
                    <td>
                      {formatTime(t.pushedAt)}
                      {t.pushedBy ? ` by ${t.pushedBy}` : ''}
                    </td>
                    <td>{formatTime(t.lastPulledAt)}</td>
                    <td>{t.pullCount}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={!last} onClick={() => setLast(undefined)}>
              First page
            </button>
            <button type="button" disabled={!data.next} onClick={() => setLast(data.tags[data.tags.length - 1]!.tag)}>
              Next
            </button>
          </nav>
        </>
      )}
    </>
  );
}
