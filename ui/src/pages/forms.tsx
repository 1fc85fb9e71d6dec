import { useState, type FormEvent, type ReactNode } from 'react';
import { api } from '../api';
import { ErrorBox } from '../components';

/** A form whose submit calls the API, then reloads; errors are shown beside it. */
export function ApiForm({ label, onSubmit, children }: { label: string; onSubmit: (form: FormData) => Promise<void>; children: ReactNode }) {
  const [error, setError] = useState<Error>();
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const el = e.currentTarget;
    setError(undefined);
    try {
      await onSubmit(new FormData(el));
      el.reset();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <form className="card inline" onSubmit={submit} aria-label={label}>
      {children}
      <ErrorBox error={error} />
    </form>
  );
}


/** A button that DELETEs an API resource, then reloads the list it is in. */
export function DeleteButton({ path, label = 'Remove', onDone }: { path: string; label?: string; onDone: () => void }) {
  return (
    <button type="button" onClick={() => api('DELETE', path).then(onDone, onDone)}>
      {label}
    </button>
  );
}
