// Where another registry lives and what its repositories are called there: a scheme is added
// when missing (plain HTTP only for loopback hosts), and Docker Hub's conventions are applied
// (docker.io means registry-1.docker.io; a single-segment name lives under `library/`).

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
const DOCKER_HUB_API = 'https://registry-1.docker.io';

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * The base URL of a registry given as `host[:port]`, `http(s)://host[:port]` or `docker.io`.
 * Without a scheme, loopback hosts get http and everything else https.
 */
export function registryBaseUrl(registry: string): URL {
  const trimmed = registry.trim().replace(/\/+$/, '');
  if (trimmed === '') throw new Error('no registry given');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`not a registry address: ${registry.slice(0, 200)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme ${url.protocol} (http or https)`);
  if (url.username || url.password) throw new Error('put credentials in the options, not in the registry address');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) && isLoopback(url.hostname)) url.protocol = 'http:';
  if (DOCKER_HUB_HOSTS.has(url.hostname.toLowerCase())) return new URL(DOCKER_HUB_API);
  url.pathname = '/';
  url.search = '';
  url.hash = '';
  return url;
}

export function isDockerHub(base: URL): boolean {
  return base.origin === DOCKER_HUB_API;
}

/** The repository name as the registry knows it (`alpine` is `library/alpine` on Docker Hub). */
export function remoteRepositoryName(base: URL, name: string): string {
  return isDockerHub(base) && !name.includes('/') ? `library/${name}` : name;
}
