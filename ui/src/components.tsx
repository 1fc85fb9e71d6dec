// Small pieces every page uses: loading and error states, copyable commands, empty states.
import { useEffect, useState, type ReactNode } from 'react';
import { ApiError } from './api';

/** Load data for a page; reload when `deps` change. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: Error | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setError(undefined);
    load().then(
      (d) => live && setData(d),
      (e: unknown) => live && setError(e instanceof Error ? e : new Error(String(e))),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

export function ErrorBox({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const hint =
    error instanceof ApiError && error.secondFactor === 'enrol'
      ? 'Set up two-factor authentication on your Account page first.'
      : error instanceof ApiError && error.status === 404
      ? 'It does not exist, or you may not see it.'
      : error instanceof ApiError && error.status === 403
        ? 'You do not have permission for this.'
        : error instanceof ApiError && error.status === 401
          ? 'Your session ended: log in again.'
          : '';
  return (
    <div className="error" role="alert">
      <strong>{error.message}</strong> {hint}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted" aria-live="polite">
      {what}…
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p>
        <strong>{title}</strong>
      </p>
      {children}
    </div>
  );
}

export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      // Without the clipboard API (plain HTTP), the text is selectable.
    }
  };
  return (
    <div className="copy">
      <span className="copy-label">{label}</span>
      <code className="copy-value" tabIndex={0}>
        {value}
      </code>
      <button type="button" onClick={copy} aria-label={`Copy ${label} command`}>
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

export function PullCommands({ repository, reference }: { repository: string; reference: string }) {
  const host = window.location.host;
  const ref = reference.includes(':') ? `@${reference}` : `:${reference}`;
  return (
    <section aria-label="Pull commands" className="pull">
      <CopyField label="docker" value={`docker pull ${host}/${repository}${ref}`} />
      <CopyField label="podman" value={`podman pull ${host}/${repository}${ref}`} />
    </section>
  );
}

export function Denied() {
  return (
    <div className="error" role="alert">
      <strong>Not available.</strong> This page is for administrators and namespace owners.
    </div>
  );
}
