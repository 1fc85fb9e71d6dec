// Runs the compiled `registry` command line against a test registry's data, reporting the
// exit code and output (failures are results here, not exceptions).
import { spawn } from 'node:child_process';
import { backendEnv, CLI, type TestRegistry } from './registry.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `registry <args> --data-dir <the registry's data dir>`, with the same backends as the
 * registry; `env` adds or overrides settings (REGISTRY_*).
 */
export async function runCli(
  reg: Pick<TestRegistry, 'dataDir'>,
  args: string[],
  options: { stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const env = { ...process.env, ...(await backendEnv(reg.dataDir)), ...options.env };
  const child = spawn(process.execPath, [CLI, ...args, '--data-dir', reg.dataDir], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const code = await new Promise<number | null>((res) => child.once('close', (c) => res(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
