// The signed-in person's own account: two-factor authentication (set up an authenticator app
// from a QR code, recovery codes shown once, renew them, turn it off) and their password. An
// account that must have a second factor and has none is sent here before anything else.
import { useState } from 'react';
import { api, ApiError, enc, type SecondFactorStatus, type TotpEnrolment } from '../api';
import { CopyField, ErrorBox, Loading, useLoad } from '../components';
import { useSession } from '../session';
import { ApiForm } from './forms';

const MFA = '/api/v1/me/mfa';
const OTP_HEADER = 'X-Registry-OTP';

/** Said when the server refuses a code: the same words on the login page and here. */
export const WRONG_CODE = 'That code is wrong, used already or expired. Try the next code from your app, or a recovery code.';

/** A 401 that is about the code becomes WRONG_CODE (the generic 401 hint would say the session ended). */
export function explainCodeError(err: unknown): unknown {
  return err instanceof ApiError && err.status === 401 && err.secondFactor === 'totp' ? new Error(WRONG_CODE) : err;
}

/** A six-digit code from the app, or a recovery code (xxxxx-xxxxx). */
export function CodeInput({ label = 'Authentication code', autoFocus = false }: { label?: string; autoFocus?: boolean }) {
  return (
    <label>
      {label}
      <input name="code" autoComplete="one-time-code" inputMode="text" spellCheck={false} maxLength={64} required autoFocus={autoFocus} />
    </label>
  );
}

/** A form asking for a code, then calling the API with it in the header changes to the second factor take. */
function CodeForm({ label, button, danger = false, onCode }: { label: string; button: string; danger?: boolean; onCode: (headers: Record<string, string>) => Promise<void> }) {
  return (
    <ApiForm
      label={label}
      onSubmit={async (f) => {
        try {
          await onCode({ [OTP_HEADER]: String(f.get('code') ?? '').trim() });
        } catch (err) {
          throw explainCodeError(err);
        }
      }}
    >
      <CodeInput />
      <button type="submit" className={danger ? undefined : 'primary'}>
        {button}
      </button>
    </ApiForm>
  );
}

export function AccountPage() {
  const { session } = useSession();
  const mustEnrol = session.mustEnrolSecondFactor === true;
  return (
    <>
      <h1>Your account</h1>
      <p className="muted">Signed in as {session.user?.name}.</p>
      {mustEnrol && (
        <div className="card warn" role="alert">
          <strong>Set up two-factor authentication to continue.</strong> The registry asks it of accounts with your role (administrators,
          or namespace owners); until it is on, the other pages stay closed.
        </div>
      )}
      <SecondFactorSection />
      {!mustEnrol && <PasswordSection />}
    </>
  );
}

function SecondFactorSection() {
  const { refresh } = useSession();
  const { data: status, error, reload } = useLoad(() => api<SecondFactorStatus>('GET', MFA), []);
  const [enrolment, setEnrolment] = useState<TotpEnrolment>();
  const [codes, setCodes] = useState<string[]>();
  const [startError, setStartError] = useState<Error>();

  const start = async () => {
    setStartError(undefined);
    try {
      setEnrolment(await api<TotpEnrolment>('POST', `${MFA}/totp`));
    } catch (err) {
      setStartError(err as Error);
    }
  };
  const done = () => {
    setCodes(undefined);
    reload();
    // An account that had to enrol may use every page now (not before: the codes would be gone).
    void refresh();
  };

  let body;
  if (error) body = <ErrorBox error={error} />;
  else if (!status) body = <Loading />;
  else if (codes) body = <RecoveryCodes codes={codes} onDone={done} />;
  else if (enrolment)
    body = (
      <div className="card">
        <p>
          <strong>1.</strong> Scan this QR code with your authenticator app (or type the secret into it by hand).
        </p>
        <img className="qr" src={enrolment.qrCode} alt="QR code for your authenticator app" width={200} height={200} />
        <CopyField label="Secret" value={enrolment.secret} />
        <p>
          <strong>2.</strong> Enter the code the app shows to turn two-factor authentication on.
        </p>
        <ApiForm
          label="Confirm the authenticator app"
          onSubmit={async (f) => {
            const confirmed = await api<{ recoveryCodes: string[] }>('POST', `${MFA}/totp/confirm`, { code: String(f.get('code') ?? '').trim() });
            setEnrolment(undefined);
            setCodes(confirmed.recoveryCodes);
          }}
        >
          <CodeInput label="Code from the app" autoFocus />
          <button type="submit" className="primary">
            Turn on
          </button>
          <button type="button" onClick={() => setEnrolment(undefined)}>
            Cancel
          </button>
        </ApiForm>
      </div>
    );
  else if (status.totp !== 'on')
    body = (
      <>
        <p>
          <span className="badge">Off</span> Logins ask only for your password. With an authenticator app, they also ask for a code from your phone.
        </p>
        <button type="button" className="primary" onClick={start}>
          Set up authenticator app
        </button>
        <ErrorBox error={startError} />
      </>
    );
  else
    body = (
      <>
        <p>
          <span className="badge ok">On</span> Logins ask for a code from your authenticator app.{' '}
          <span className={status.recoveryCodesLeft <= 3 ? 'badge warn' : undefined}>Recovery codes left: {status.recoveryCodesLeft}</span>
        </p>
        <h3>New recovery codes</h3>
        <p className="muted">The old ones stop working.</p>
        <CodeForm
          label="New recovery codes"
          button="Generate new recovery codes"
          onCode={async (headers) => setCodes((await api<{ recoveryCodes: string[] }>('POST', `${MFA}/recovery-codes`, undefined, headers)).recoveryCodes)}
        />
        <h3>Turn off</h3>
        <p className="muted">{status.required ? 'Your account must use two-factor authentication: turned off, it has to be set up again at once (a new phone, say).' : 'Logins will ask only for your password.'}</p>
        <CodeForm
          label="Turn off two-factor authentication"
          button="Turn off"
          danger
          onCode={async (headers) => {
            await api('DELETE', `${MFA}/totp`, undefined, headers);
            reload();
            await refresh();
          }}
        />
      </>
    );
  return (
    <section aria-labelledby="mfa-heading">
      <h2 id="mfa-heading">Two-factor authentication</h2>
      {body}
    </section>
  );
}

/** Shown once: copy or download them, and say so before they are gone. */
function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const text = `Recovery codes for ${window.location.host} (each works once):\n${codes.join('\n')}\n`;
  return (
    <div className="card secret" role="status" aria-label="Recovery codes">
      <p>
        <strong>Save these recovery codes now: they are shown only once.</strong> If you lose your phone, each one logs you in once instead of a
        code. Keep them apart from the phone, like a password.
      </p>
      <ol className="codes mono">
        {codes.map((c) => (
          <li key={c}>{c}</li>
        ))}
      </ol>
      <CopyField label="All codes" value={codes.join(' ')} />
      <div className="toolbar">
        <a className="button" href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`} download="recovery-codes.txt">
          Download as text
        </a>
        <button type="button" className="primary" onClick={onDone}>
          I have saved them
        </button>
      </div>
    </div>
  );
}

function PasswordSection() {
  const { session } = useSession();
  const [changed, setChanged] = useState(false);
  return (
    <section aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <ApiForm
        label="Change password"
        onSubmit={async (f) => {
          setChanged(false);
          const password = String(f.get('password') ?? '');
          if (password !== f.get('repeat')) throw new Error('The two passwords differ.');
          await api('PATCH', `/api/v1/users/${enc(session.user?.name ?? '')}`, { password });
          setChanged(true);
        }}
      >
        <label>
          New password
          <input name="password" type="password" autoComplete="new-password" minLength={8} required />
        </label>
        <label>
          Repeat it
          <input name="repeat" type="password" autoComplete="new-password" minLength={8} required />
        </label>
        <button type="submit">Change password</button>
      </ApiForm>
      {changed && <p role="status">Password changed.</p>}
    </section>
  );
}
