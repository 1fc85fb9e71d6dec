// Shared by the commands that manage accounts and read the audit log: open the access store
// named by the same configuration flags as `registry serve` (the schema is brought up to date,
// so these commands work before the registry first starts), and write their audit events.
import { pino } from 'pino';
import { Auditor } from '../auth/audit.js';
import type { AccessStore } from '../metadata/access-store.js';
import { openSqlStore } from '../metadata/open.js';
import { configFromFlags, type ConfigFlags } from './options.js';

/** The audit log names changes made with the command line this way. */
export const CLI_ACTOR = 'system';

export async function withAccessStore<T>(flags: ConfigFlags, fn: (access: AccessStore, auditor: Auditor) => Promise<T>): Promise<T> {
  const config = configFromFlags(flags);
  const store = await openSqlStore(config);
  try {
    const auditor = new Auditor(store.access(), pino({ level: 'warn' }, pino.destination(2)));
    return await fn(store.access(), auditor);
  } finally {
    await store.close();
  }
}
