// A throwaway podman/buildah setup: vfs storage, config, auth file and policy in a temp dir,
// with the test registry marked insecure. Nothing touches the machine's own container state.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PodmanSandbox {
  work: string;
  /** Environment for podman, buildah and skopeo. */
  env: Record<string, string>;
  /** A signature policy accepting anything (for --signature-policy). */
  policy: string;
}

/** `label` names the temp dir; podman names images pulled from oci:<dir> after it, so keep it lower-case. */
export async function makePodmanSandbox(label: string, registryHost: string): Promise<PodmanSandbox> {
  const work = join(tmpdir(), `registry-e2e-${label}-${randomBytes(6).toString('hex')}`);
  await mkdir(work);
  for (const d of ['graph', 'run', 'tmp', 'static', 'volumes', 'cni', 'home']) await mkdir(join(work, d));
  await writeFile(join(work, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${work}/graph"\nrunroot = "${work}/run"\n`);
  await writeFile(join(work, 'registries.conf'), `unqualified-search-registries = []\n\n[[registry]]\nlocation = "${registryHost}"\ninsecure = true\n`);
  await writeFile(
    join(work, 'containers.conf'),
    [
      '[engine]',
      'events_logger = "none"',
      'cgroup_manager = "cgroupfs"',
      `tmp_dir = "${work}/tmp"`,
      `static_dir = "${work}/static"`,
      `volume_path = "${work}/volumes"`,
      '[network]',
      `network_config_dir = "${work}/cni"`,
      '',
    ].join('\n'),
  );
  await writeFile(join(work, 'auth.json'), JSON.stringify({ auths: {} }));
  const policy = join(work, 'policy.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const env = {
    CONTAINERS_STORAGE_CONF: join(work, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf'),
    CONTAINERS_CONF: join(work, 'containers.conf'),
    REGISTRY_AUTH_FILE: join(work, 'auth.json'),
    TMPDIR: join(work, 'tmp'),
    HOME: join(work, 'home'),
    XDG_RUNTIME_DIR: join(work, 'run'),
    XDG_CONFIG_HOME: join(work, 'home'),
  };
  return { work, env, policy };
}
