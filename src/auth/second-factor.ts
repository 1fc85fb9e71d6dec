// Multi-factor login for people: TOTP enrolment (secret, otpauth:// URI, QR code, confirmed by
// a first code), recovery codes (shown once, stored hashed, single use), verification with
// replays refused, and which accounts must have a second factor. Robots never do.
import QRCode from 'qrcode';
import type { AccessStore } from '../metadata/access-store.js';
import type { IdentityStore } from '../metadata/identity-store.js';
import { hashRecoveryCode, matchingStep, newRecoveryCodes, newTotpSecret, otpauthUri } from './totp.js';

export interface SecondFactorOptions {
  issuer: string;
  requireForAdmins: boolean;
  requireForOwners: boolean;
}

export interface Enrolment {
  secret: string;
  otpauthUri: string;
  /** The URI as a QR code: an SVG data URL. */
  qrCode: string;
}

export interface SecondFactorStatus {
  totp: 'off' | 'pending' | 'on';
  recoveryCodesLeft: number;
  /** Whether this account must have a second factor (configuration: administrators, owners). */
  required: boolean;
}

export class SecondFactor {
  constructor(
    private readonly identity: IdentityStore,
    private readonly access: AccessStore,
    private readonly options: SecondFactorOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async enrolled(username: string): Promise<boolean> {
    return (await this.identity.getTotp(username))?.confirmed === true;
  }

  /** When the second factor was turned on (undefined: it is not). */
  async enabledSince(username: string): Promise<Date | undefined> {
    const totp = await this.identity.getTotp(username);
    return totp?.confirmed ? totp.since : undefined;
  }

  async required(user: { username: string; admin: boolean }): Promise<boolean> {
    if (this.options.requireForAdmins && user.admin) return true;
    if (!this.options.requireForOwners) return false;
    return (await this.access.rolesOf(user.username)).some((m) => m.role === 'owner');
  }

  /** Whether this account must have a second factor and has none yet (it may only enrol). */
  async mustEnrol(user: { username: string; admin: boolean }): Promise<boolean> {
    return (await this.required(user)) && !(await this.enrolled(user.username));
  }

  async status(user: { username: string; admin: boolean }): Promise<SecondFactorStatus> {
    const totp = await this.identity.getTotp(user.username);
    return {
      totp: !totp ? 'off' : totp.confirmed ? 'on' : 'pending',
      recoveryCodesLeft: totp?.confirmed ? await this.identity.recoveryCodesLeft(user.username) : 0,
      required: await this.required(user),
    };
  }

  /** Start (or restart) an enrolment; undefined when a second factor is on already. */
  async begin(username: string): Promise<Enrolment | undefined> {
    if (await this.enrolled(username)) return undefined;
    const secret = newTotpSecret();
    await this.identity.setTotp(username, secret);
    const uri = otpauthUri(this.options.issuer, username, secret);
    const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { secret, otpauthUri: uri, qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
  }

  /** Finish an enrolment with a first code; the recovery codes (shown this once), or undefined when the code is wrong. */
  async confirm(username: string, code: string): Promise<string[] | undefined> {
    const totp = await this.identity.getTotp(username);
    if (!totp || totp.confirmed) return undefined;
    const step = matchingStep(totp.secret, code.trim(), this.now());
    if (step === undefined || !(await this.identity.useTotpStep(username, step, true))) return undefined;
    const codes = newRecoveryCodes();
    await this.identity.setRecoveryCodes(username, codes.map(hashRecoveryCode));
    return codes;
  }

  /** Check a TOTP code (each accepted once) or a recovery code (each usable once). */
  async verify(username: string, code: string): Promise<'totp' | 'recovery' | undefined> {
    const totp = await this.identity.getTotp(username);
    if (!totp?.confirmed) return undefined;
    const given = code.trim();
    if (/^\d{6}$/.test(given)) {
      const step = matchingStep(totp.secret, given, this.now());
      // A step at or before the last accepted one is a replay (or an older code): refused.
      return step !== undefined && (await this.identity.useTotpStep(username, step)) ? 'totp' : undefined;
    }
    return (await this.identity.useRecoveryCode(username, hashRecoveryCode(given))) ? 'recovery' : undefined;
  }

  /** A fresh set of recovery codes replacing the old ones (shown this once); undefined when no second factor is on. */
  async renewRecoveryCodes(username: string): Promise<string[] | undefined> {
    if (!(await this.enrolled(username))) return undefined;
    const codes = newRecoveryCodes();
    await this.identity.setRecoveryCodes(username, codes.map(hashRecoveryCode));
    return codes;
  }

  async remove(username: string): Promise<boolean> {
    return this.identity.deleteTotp(username);
  }
}
