// One manifest: pull commands, platforms of an index, layers, configuration (labels,
// environment, history), referrers (signatures, SBOMs, other artifacts), signatures and
// vulnerability findings (each shown only when this registry has the endpoint).
import { useState } from 'react';
import { Link } from 'react-router';
import { api, enc, formatBytes, formatTime, optional, shortDigest, type DescriptorView, type ManifestDetails } from '../api';
import { CopyField, Empty, ErrorBox, Loading, PullCommands, useLoad } from '../components';
import { useSession } from '../session';
import { ApiForm } from './forms';

function referrerKind(r: DescriptorView): string {
  const t = r.artifactType ?? r.mediaType;
  if (/signature|cosign|notary/i.test(t)) return 'signature';
  if (/cyclonedx|spdx|sbom/i.test(t)) return 'SBOM';
  if (/vex|attestation|in-toto/i.test(t)) return 'attestation';
  return 'artifact';
}

export function ManifestPage({ name, reference }: { name: string; reference: string }) {
  const { data, error } = useLoad(() => api<ManifestDetails>('GET', `/api/v1/repositories/${name}/manifests/${enc(reference)}`), [name, reference]);
  return (
    <>
      <p className="crumbs">
        <Link to="/">Repositories</Link> / <Link to={`/r/${name}`}>{name}</Link>
      </p>
      <h1>
        {name}
        <span className="ref">{reference.includes(':') ? `@${shortDigest(reference)}` : `:${reference}`}</span>
      </h1>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data && <Details m={data} reference={reference} />}
    </>
  );
}

function Details({ m, reference }: { m: ManifestDetails; reference: string }) {
  const image = m.config?.image;
  return (
    <>
      <dl className="facts">
        <dt>Digest</dt>
        <dd>
          <code>{m.digest}</code>
        </dd>
        <dt>Kind</dt>
        <dd>{m.kind === 'index' ? `index of ${m.manifests.length} manifests` : m.kind}</dd>
        <dt>Media type</dt>
        <dd>{m.mediaType}</dd>
        <dt>Total size</dt>
        <dd>{formatBytes(m.totalSize)}</dd>
        {image?.os && (
          <>
            <dt>Platform</dt>
            <dd>{[image.os, image.architecture, image.variant].filter(Boolean).join('/')}</dd>
          </>
        )}
        {image?.created && (
          <>
            <dt>Built</dt>
            <dd>{formatTime(image.created)}</dd>
          </>
        )}
        <dt>Tags</dt>
        <dd>{m.tags.length ? m.tags.join(', ') : 'untagged'}</dd>
        {m.subject && (
          <>
            <dt>Refers to</dt>
            <dd>
              <Link to={`/r/${m.repository}/-/${m.subject.digest}`}>{shortDigest(m.subject.digest)}</Link>
            </dd>
          </>
        )}
      </dl>
      <h2>Pull</h2>
      {!reference.includes(':') && <PullCommands repository={m.repository} reference={reference} />}
      <CopyField label="by digest" value={`docker pull ${window.location.host}/${m.repository}@${m.digest}`} />

      {m.kind === 'index' && (
        <section>
          <h2>Platforms</h2>
          <ul className="plain">
            {m.manifests.map((c) => (
              <li key={c.digest}>
                <Link to={`/r/${m.repository}/-/${c.digest}`}>
                  {c.platform ? [c.platform.os, c.platform.architecture, c.platform.variant].filter(Boolean).join('/') : (c.artifactType ?? 'unknown platform')}
                </Link>{' '}
                <code>{shortDigest(c.digest)}</code> · {formatBytes(c.size)}
              </li>
            ))}
          </ul>
        </section>
      )}

      {m.layers.length > 0 && (
        <section>
          <h2>Layers</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Digest</th>
                  <th scope="col">Media type</th>
                  <th scope="col">Size</th>
                </tr>
              </thead>
              <tbody>
                {m.layers.map((l, i) => (
                  <tr key={`${l.digest}-${i}`}>
                    <td>{i + 1}</td>
                    <td>
                      <code>{shortDigest(l.digest)}</code>
                    </td>
                    <td>{l.mediaType}</td>
                    <td>{formatBytes(l.size)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}

      {m.config && (
        <section>
          <h2>Configuration</h2>
          <p className="muted">
            <code>{shortDigest(m.config.digest)}</code> · {m.config.mediaType} · {formatBytes(m.config.size)}
          </p>
          {image && (
            <>
              {(image.entrypoint || image.cmd) && (
                <p>
                  Runs <code>{[...(image.entrypoint ?? []), ...(image.cmd ?? [])].join(' ')}</code>
                  {image.user ? ` as ${image.user}` : ''}
                  {image.workingDir ? ` in ${image.workingDir}` : ''}
                </p>
              )}
              <h3>Labels</h3>
              {Object.keys(image.labels).length === 0 ? (
                <p className="muted">No labels.</p>
              ) : (
                <dl className="facts">
                  {Object.entries(image.labels).map(([k, v]) => (
                    <div key={k}>
                      <dt>{k}</dt>
                      <dd>{v}</dd>
                    </div>
                  ))}
                </dl>
              )}
              {image.env.length > 0 && (
                <>
                  <h3>Environment</h3>
                  <ul className="plain mono">
                    {image.env.map((e) => (
                      <li key={e}>{e}</li>
                    ))}
                  </ul>
                </>
              )}
              <h3>History</h3>
              {image.history.length === 0 ? (
                <p className="muted">No history recorded.</p>
              ) : (
                <ol className="history">
                  {image.history.map((h, i) => (
                    <li key={i}>
                      <code>{h.createdBy ?? h.comment ?? '(no command)'}</code> <span className="muted">{formatTime(h.created)}</span>
                      {h.emptyLayer && <span className="badge">no layer</span>}
                    </li>
                  ))}
                </ol>
              )}
            </>
          )}
        </section>
      )}

      <section>
        <h2>Referrers</h2>
        {m.referrers.length === 0 ? (
          <p className="muted">No signatures, SBOMs or other artifacts refer to this manifest.</p>
        ) : (
          <ul className="plain">
            {m.referrers.map((r) => (
              <li key={r.digest}>
                <span className="badge">{referrerKind(r)}</span> <Link to={`/r/${m.repository}/-/${r.digest}`}>{shortDigest(r.digest)}</Link>{' '}
                <span className="muted">{r.artifactType ?? r.mediaType}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
      <Signatures repository={m.repository} digest={m.digest} />
      {m.kind !== 'artifact' && <Vulnerabilities repository={m.repository} digest={m.digest} />}
      {m.kind !== 'artifact' && <Promote repository={m.repository} reference={reference} />}
    </>
  );
}

/** Copy (or move) the image with its platforms and referrers to another repository (POST /api/v1/promote). */
function Promote({ repository, reference }: { repository: string; reference: string }) {
  const { session } = useSession();
  const [done, setDone] = useState<{ targetRepository: string; targetTag: string | null; manifests: string[] }>();
  if (!session.authEnabled || !session.user) return null;
  return (
    <section>
      <h2>Promote</h2>
      <p className="muted">Copies the image, its platforms and its referrers (signatures, SBOMs) without copying bytes. The target namespace's rules apply.</p>
      <ApiForm
        label="Promote"
        onSubmit={async (f) => {
          const tag = String(f.get('tag') ?? '').trim();
          setDone(
            await api('POST', '/api/v1/promote', {
              source: { repository, reference },
              target: { repository: String(f.get('target') ?? '').trim(), ...(tag ? { tag } : {}) },
              move: f.get('move') === 'on',
            }),
          );
        }}
      >
        <label>
          Target repository <input name="target" required placeholder="prod/app" />
        </label>
        <label>
          Tag <input name="tag" placeholder={reference.includes(':') ? 'optional' : reference} />
        </label>
        {!reference.includes(':') && (
          <label>
            <input type="checkbox" name="move" /> move (remove the tag here)
          </label>
        )}
        <button type="submit">Promote</button>
      </ApiForm>
      {done && (
        <p role="status">
          Promoted to{' '}
          <Link to={`/r/${done.targetRepository}/-/${done.targetTag ?? reference}`}>
            {done.targetRepository}
            {done.targetTag ? `:${done.targetTag}` : ''}
          </Link>{' '}
          ({done.manifests.length} manifests).
        </p>
      )}
    </section>
  );
}

/** Signature verification, from the signing feature when this registry has it. */
interface SignatureRow {
  kind: string;
  digest: string;
  verified?: boolean;
  key?: { name?: string; fingerprint?: string };
  reason?: string;
}

function Signatures({ repository, digest }: { repository: string; digest: string }) {
  const { data } = useLoad(() => optional<{ signatures?: SignatureRow[] }>(`/api/v1/repositories/${repository}/signatures/${digest}`), [repository, digest]);
  if (!data) return null;
  const list = data.signatures ?? [];
  return (
    <section>
      <h2>Signatures</h2>
      {list.length === 0 ? (
        <p className="muted">Not signed.</p>
      ) : (
        <ul className="plain">
          {list.map((s, i) => (
            <li key={i}>
              <span className={`badge ${s.verified ? 'ok' : 'warn'}`}>{s.verified ? 'verified' : s.verified === false ? 'not verified' : 'not checked'}</span> {s.kind}{' '}
              {s.key?.name ? `with key ${s.key.name}` : ''} <span className="muted">{s.reason ?? ''}</span> <code>{shortDigest(s.digest)}</code>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;

interface Finding {
  id: string;
  severity: string;
  package: string;
  installedVersion: string;
  fixedVersion?: string;
  summary: string;
}
interface ImageScan {
  digest: string;
  status: string;
  scannedAt?: string;
  summary?: { vulnerabilities?: Record<string, number> };
  findings?: Finding[];
}
type ScanAnswer = ({ kind: 'image' } & ImageScan) | { kind: 'index'; platforms: ImageScan[] } | { kind: 'artifact'; status: string };

function countsOf(s: ImageScan): string {
  const v = s.summary?.vulnerabilities ?? {};
  return SEVERITIES.filter((k) => v[k])
    .map((k) => `${v[k]} ${k.toLowerCase()}`)
    .join(', ');
}

function Vulnerabilities({ repository, digest }: { repository: string; digest: string }) {
  const { session } = useSession();
  const [severity, setSeverity] = useState<string>('');
  const { data, error } = useLoad(
    () => (session.authEnabled ? optional<ScanAnswer>(`/api/v1/scan?repository=${enc(repository)}&reference=${enc(digest)}${severity ? `&severity=${severity}` : ''}`) : Promise.resolve(null)),
    [repository, digest, severity],
  );
  if (!session.authEnabled) return null;
  const scans: ImageScan[] = !data ? [] : data.kind === 'index' ? data.platforms : data.kind === 'image' ? [data] : [];
  return (
    <section>
      <h2>Vulnerabilities</h2>
      <label>
        Severity at least{' '}
        <select value={severity} onChange={(e) => setSeverity(e.target.value)}>
          <option value="">any</option>
          {SEVERITIES.slice(0, 4).map((s) => (
            <option key={s} value={s}>
              {s.toLowerCase()}
            </option>
          ))}
        </select>
      </label>
      <ErrorBox error={error} />
      {data === undefined && !error && <Loading />}
      {data === null && <Empty title="Scanning is not available for this image." />}
      {scans.map((s) => (
        <div key={s.digest}>
          <p>
            <code>{shortDigest(s.digest)}</code>: {s.status}
            {s.scannedAt ? `, scanned ${formatTime(s.scannedAt)}` : ''}
            {countsOf(s) && ` · ${countsOf(s)}`}
          </p>
          {s.findings && s.findings.length === 0 && <p className="muted">No findings{severity ? ` at ${severity.toLowerCase()} or above` : ''}.</p>}
          {s.findings && s.findings.length > 0 && (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Severity</th>
                    <th scope="col">Advisory</th>
                    <th scope="col">Package</th>
                    <th scope="col">Installed</th>
                    <th scope="col">Fixed in</th>
                  </tr>
                </thead>
                <tbody>
                  {s.findings.map((f) => (
                    <tr key={`${f.id}-${f.package}`}>
                      <td>
                        <span className={`sev sev-${f.severity.toLowerCase()}`}>{f.severity.toLowerCase()}</span>
                      </td>
                      <td title={f.summary}>{f.id}</td>
                      <td>{f.package}</td>
                      <td>{f.installedVersion}</td>
                      <td>{f.fixedVersion ?? '–'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      ))}
    </section>
  );
}
