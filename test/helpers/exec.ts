// Runs external clients (skopeo, podman, buildah, ctr) with a hard timeout and an error that
// carries their output, so a failing e2e test says what the client said.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeout = opts.timeoutMs ?? 60_000;
  return new Promise((resolveRun, reject) => {
    execFile(
      cmd,
      args,
      {
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
        env: { ...process.env, ...opts.env },
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          const why = e.killed ? `timed out after ${timeout} ms` : `failed (${e.code ?? e.message})`;
          reject(new Error(`${cmd} ${args.join(' ')} ${why}\nstdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`));
          return;
        }
        resolveRun({ stdout, stderr });
      },
    );
  });
}

/** Whether `cmd` is an executable on the PATH (for skipping when a client is not installed at all). */
export async function hasCommand(cmd: string): Promise<boolean> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
