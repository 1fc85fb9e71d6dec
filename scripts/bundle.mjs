// Bundles the compiled command line (dist/src/cli/main.js) with its dependencies into
// dist/bundle/cli/: the `registry` binary and `npm start` run it. Loading one ESM bundle instead
// of about 1,000 separate files halves start-up CPU (no per-file resolution, stat, read, format
// detection and CommonJS export scanning), which is most of a start, and of every CLI command.
// Code only some commands need (the S3 driver, scanning, OIDC, ...) stays in chunks loaded on
// first use, as the dynamic imports in the source say.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// As deep as dist/src/http/, so paths built from import.meta.url (the web UI's files in dist/ui/)
// resolve the same from the bundle.
const outdir = join(root, 'dist/bundle/cli');

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist/src/cli/main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native add-ons load their .node files from their own package folder.
  external: ['better-sqlite3', '@node-rs/argon2'],
  // CommonJS dependencies call require(); in an ES module it has to be made.
  banner: { js: "import { createRequire as __registryCreateRequire } from 'node:module'; const require = __registryCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'linked',
});
