// Run as a child process by `RegistryLauncher`: loads the registry's modules, says "warm", then
// waits for its command-line arguments (a JSON array on stdin) and runs the real CLI with them.
// Loading modules is most of a start-up; crash tests restart the registry a hundred times, so
// they load the next process while the current one works, and only the start itself (config,
// stores, recovery, listen) lies between a kill and the next start.
import { readdir } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// `node --test dist/test/` also runs every .js file under test/ as a test: without the
// launcher's go-ahead this file does nothing (it would wait on stdin forever).
if (process.env['REGISTRY_WARM_SERVE'] !== '1') process.exit(0);

const bundleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../bundle/cli');

// As the `registry` entry point (main.js) does before it loads anything.
setFlagsFromString('--semi-space-growth-factor=1');
// Every chunk of the bundled CLI, the program itself and the S3 driver (which the registry loads
// only when configured) among them; main.js alone runs the command line when imported.
let runCli: ((argv: string[]) => Promise<void>) | undefined;
for (const file of await readdir(bundleDir)) {
  if (!file.endsWith('.js') || file === 'main.js') continue;
  const chunk = (await import(pathToFileURL(join(bundleDir, file)).href)) as { runCli?: typeof runCli };
  if (file.startsWith('program-')) runCli = chunk.runCli;
}
if (!runCli) throw new Error(`no program chunk with runCli in ${bundleDir}`);

process.stdout.write('warm\n');
const lines = createInterface({ input: process.stdin });
const line = await new Promise<string>((res) => lines.once('line', res));
lines.close();
void runCli([process.argv[0]!, join(bundleDir, 'main.js'), ...(JSON.parse(line) as string[])]);
