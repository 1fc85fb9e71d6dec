// `registry audit`: read the audit log, newest first, from the metadata database.
import { Command } from 'commander';
import { auditView } from '../http/api/audit.js';
import type { AuditQuery } from '../auth/model.js';
import { withAccessStore } from './access.js';
import { withConfigFlags, type ConfigFlags } from './options.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO 8601 time, or a duration back from now (`30m`, `24h`, `7d`). */
export function parseTime(value: string): Date {
  const relative = /^(\d+)([smhd])$/.exec(value);
  if (relative) return new Date(Date.now() - Number(relative[1]) * UNITS[relative[2]!]!);
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new Error(`not a time: ${value} (ISO 8601, or a duration such as 24h or 7d)`);
  return at;
}

function positiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${what} must be a positive integer`);
  return n;
}

interface AuditFlags extends ConfigFlags {
  actor?: string;
  action?: string;
  repository?: string;
  since?: string;
  until?: string;
  before?: string;
  limit: string;
  json?: boolean;
}

export function auditCommand(): Command {
  return withConfigFlags(new Command('audit').description('show audit events, newest first'))
    .option('--actor <name>', 'only events of this user or robot')
    .option('--action <action>', 'only this action (push, pull, delete, login, login.failed, user.create, member.set, robot.create, ...)')
    .option('--repository <name>', 'only events on this repository')
    .option('--since <time>', 'from this time on: ISO 8601, or a duration back from now (24h, 7d)')
    .option('--until <time>', 'before this time')
    .option('--before <id>', 'only events with a smaller id (to page)')
    .option('--limit <n>', 'at most this many events', '50')
    .option('--json', 'print a JSON array')
    .action(async (flags: AuditFlags) => {
      const query: AuditQuery = {
        limit: positiveInt(flags.limit, '--limit'),
        ...(flags.actor !== undefined ? { actor: flags.actor } : {}),
        ...(flags.action !== undefined ? { action: flags.action } : {}),
        ...(flags.repository !== undefined ? { repository: flags.repository } : {}),
        ...(flags.since !== undefined ? { since: parseTime(flags.since) } : {}),
        ...(flags.until !== undefined ? { until: parseTime(flags.until) } : {}),
        ...(flags.before !== undefined ? { before: positiveInt(flags.before, '--before') } : {}),
      };
      const events = (await withAccessStore(flags, (access) => access.queryAudit(query))).map(auditView);
      if (flags.json) {
        console.log(JSON.stringify(events, null, 2));
        return;
      }
      for (const e of events) {
        const target = e.repository ? `${e.repository}${e.reference ? `:${e.reference}` : ''}${e.digest ? `@${e.digest}` : ''}` : '-';
        console.log([String(e.id), e.at, e.actor, e.action, target, e.source ?? '-', e.detail ? JSON.stringify(e.detail) : ''].join('\t'));
      }
    });
}
