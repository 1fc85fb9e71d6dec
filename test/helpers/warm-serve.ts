// Run as a child process by `RegistryLauncher`: loads the registry's modules, says "warm", then
// waits for its command-line arguments (a JSON array on stdin) and runs the real CLI with them.
// Loading modules is most of a start-up; crash tests restart the registry a hundred times, so
// they load the next process while the current one works, and only the start itself (config,
// stores, recovery, listen) lies between a kill and the next start.
import { readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// `node --test dist/test/` also runs every .js file under test/ as a test: without the
// launcher's go-ahead this file does nothing (it would wait on stdin forever).
if (process.env['REGISTRY_WARM_SERVE'] !== '1') process.exit(0);

const cliDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli');
const main = join(cliDir, 'main.js');

// Every command module (not main.js or program.js: importing them runs the CLI), and the S3
// driver, which the registry loads only when configured.
const runsTheCli = new Set(['main.js', 'program.js']);
for (const file of await readdir(cliDir)) if (file.endsWith('.js') && !runsTheCli.has(file)) await import(pathToFileURL(join(cliDir, file)).href);
await import('../../src/storage/s3.js');

process.stdout.write('warm\n');
const lines = createInterface({ input: process.stdin });
const line = await new Promise<string>((res) => lines.once('line', res));
lines.close();
process.argv = [process.argv[0]!, main, ...(JSON.parse(line) as string[])];
await import(pathToFileURL(main).href);
