// The web UI: the prebuilt single-page app (Vite's output in dist/ui) served at /, with
// index.html answering every client-side route except the registry's own paths, and strict
// security headers (no inline scripts, no framing, no sniffing, no referrer).
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { RegistryError } from '../registry/errors.js';

/** Where the build puts the UI, seen from dist/src/http. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** Paths the UI never answers: they belong to the registry (an unknown one there is a 404). */
const RESERVED = /^\/(v2|api|token|metrics|healthz|readyz)(\/|$)/;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

export const UI_SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** Every file of the build by URL path, listed once at start (nothing else is ever opened). */
function listFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.set(`/${relative(dir, full).split(sep).join('/')}`, full);
    }
  };
  walk(dir);
  return files;
}

/** Serve the UI from `dir`; false (and nothing registered) when it was not built. */
export function registerUi(app: FastifyInstance, dir: string = DEFAULT_UI_DIR): boolean {
  if (!existsSync(join(dir, 'index.html'))) return false;
  const files = listFiles(dir);
  const index = readFileSync(join(dir, 'index.html'));

  const sendIndex = (reply: FastifyReply) =>
    reply.code(200).headers(UI_SECURITY_HEADERS).header('Content-Type', CONTENT_TYPES['.html']).header('Cache-Control', 'no-cache').send(index);

  app.get('/', async (_request, reply) => sendIndex(reply));
  app.get('/*', async (request, reply) => {
    const url = request.raw.url ?? '/';
    const path = url.split('?')[0]!;
    // Dot segments are never a route of the app (and never reach the file list).
    if (RESERVED.test(path) || path.includes('/..')) throw new RegistryError('NAME_UNKNOWN', 'unknown API endpoint', undefined, { status: 404 });
    const file = files.get(path);
    if (file && path !== '/index.html') {
      // Vite names assets by content hash: they never change under their name.
      const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
      return reply
        .code(200)
        .headers(UI_SECURITY_HEADERS)
        .header('Content-Type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
        .header('Content-Length', statSync(file).size)
        .header('Cache-Control', cache)
        .send(createReadStream(file));
    }
    // A missing file is a 404; any other path is a route of the app.
    if (/\.[A-Za-z0-9]+$/.test(path)) throw new RegistryError('NAME_UNKNOWN', 'not found', undefined, { status: 404 });
    return sendIndex(reply);
  });
  return true;
}
