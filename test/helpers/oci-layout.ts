// Builds OCI image layouts on disk (oci-layout, index.json, blobs/sha256/...) for the e2e
// tests that hand them to real clients (skopeo, podman), and reads layouts the clients wrote.
// Layers are real gzip'ed tars made with the `tar` package; configs carry the matching diff_ids.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create as createTar } from 'tar';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const REF_NAME = 'org.opencontainers.image.ref.name';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** A file inside a layer: a path relative to the layer root and its bytes (mode defaults to 0644). */
export interface LayerFile {
  path: string;
  content: Buffer | string;
  mode?: number;
}

export interface Layer {
  /** The uncompressed tar. */
  tar: Buffer;
  /** The gzip'ed tar, as stored in the layout and pushed. */
  gz: Buffer;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
  diffId: string;
  /** sha256 of the gzip'ed tar: the manifest's layer digest. */
  digest: string;
}

const EPOCH = new Date('2024-01-01T00:00:00Z');

/** A real tar of `files` (built from a scratch directory with the `tar` package), gzip'ed. */
export async function makeLayer(files: LayerFile[]): Promise<Layer> {
  const scratch = await mkdtemp(join(tmpdir(), 'oci-layer-'));
  try {
    const paths = new Set<string>();
    for (const f of files) {
      const target = join(scratch, f.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.content, { mode: f.mode ?? 0o644 });
      // Top-level entries: tar recurses into directories, so each directory is listed once.
      paths.add(f.path.split('/')[0]!);
    }
    const tarFile = join(scratch, '..', `${scratch.split('/').pop()}.tar`);
    await createTar({ file: tarFile, cwd: scratch, portable: true, mtime: EPOCH }, [...paths].sort());
    const tar = await readFile(tarFile);
    await rm(tarFile, { force: true });
    const gz = gzipSync(tar, { level: 6 });
    return { tar, gz, diffId: sha256(tar), digest: sha256(gz) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export interface BuiltImage {
  manifest: Buffer;
  /** The manifest's descriptor (with the platform, as an index lists it). */
  descriptor: Descriptor;
  config: Buffer;
  configDigest: string;
  layers: Layer[];
}

/** Writes blobs into an OCI layout directory and, on save(), its oci-layout and index.json. */
export class OciLayout {
  private readonly refs: Descriptor[] = [];

  constructor(readonly dir: string) {}

  static async create(dir: string): Promise<OciLayout> {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    return new OciLayout(dir);
  }

  async addBlob(data: Buffer): Promise<string> {
    const digest = sha256(data);
    await writeFile(join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
    return digest;
  }

  /** An image manifest with one gzip'ed layer per entry of `layers` and a config naming their diff_ids. */
  async addImage(platform: Platform, layers: LayerFile[][], extraConfig: Record<string, unknown> = {}): Promise<BuiltImage> {
    const built: Layer[] = [];
    for (const files of layers) {
      const layer = await makeLayer(files);
      await this.addBlob(layer.gz);
      built.push(layer);
    }
    const config = Buffer.from(
      JSON.stringify({
        created: EPOCH.toISOString(),
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
        rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
        history: built.map((_, i) => ({ created: EPOCH.toISOString(), created_by: `e2e layer ${i}` })),
        ...extraConfig,
      }),
    );
    const configDigest = await this.addBlob(config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
        layers: built.map((l) => ({ mediaType: OCI_LAYER_GZIP, digest: l.digest, size: l.gz.length })),
      }),
    );
    const digest = await this.addBlob(manifest);
    return { manifest, descriptor: { mediaType: OCI_MANIFEST, digest, size: manifest.length, platform }, config, configDigest, layers: built };
  }

  /** An image index over `images` (each listed with its platform). */
  async addIndex(images: BuiltImage[]): Promise<{ index: Buffer; descriptor: Descriptor }> {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: images.map((i) => i.descriptor) }));
    const digest = await this.addBlob(index);
    return { index, descriptor: { mediaType: OCI_INDEX, digest, size: index.length } };
  }

  /** Name `descriptor` as `tag` in index.json (the `oci:<dir>:<tag>` reference). */
  tag(descriptor: Descriptor, tag: string): void {
    const { platform: _platform, ...plain } = descriptor;
    this.refs.push({ ...plain, annotations: { [REF_NAME]: tag } });
  }

  async save(): Promise<void> {
    await writeFile(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: this.refs }));
  }
}

/** What a client left in a layout: index.json and every blob by digest. */
export interface LayoutContents {
  index: { manifests: Descriptor[] };
  blobs: Map<string, Buffer>;
}

export async function readLayout(dir: string): Promise<LayoutContents> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const blobs = new Map<string, Buffer>();
  const blobDir = join(dir, 'blobs', 'sha256');
  for (const name of await readdir(blobDir)) blobs.set(`sha256:${name}`, await readFile(join(blobDir, name)));
  return { index, blobs };
}

/** The descriptor index.json names `tag`; throws when the tag is absent. */
export function resolveTag(layout: LayoutContents, tag: string): Descriptor {
  const found = layout.index.manifests.find((d) => d.annotations?.[REF_NAME] === tag);
  if (!found) throw new Error(`tag ${tag} not in the layout's index.json: ${JSON.stringify(layout.index)}`);
  return found;
}

/** Every blob reachable from `digest` (manifest or index), including itself. */
export function reachableBlobs(blobs: Map<string, Buffer>, digest: string): string[] {
  const seen = new Set<string>();
  const walk = (d: string): void => {
    if (seen.has(d)) return;
    seen.add(d);
    const data = blobs.get(d);
    if (!data) throw new Error(`blob ${d} missing from the layout`);
    let doc: { mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    try {
      doc = JSON.parse(data.toString('utf8')) as typeof doc;
    } catch {
      return;
    }
    if (doc === null || typeof doc !== 'object') return;
    if (Array.isArray(doc.manifests)) for (const m of doc.manifests) walk(m.digest);
    if (doc.config && typeof doc.config.digest === 'string' && Array.isArray(doc.layers)) {
      seen.add(doc.config.digest);
      if (!blobs.has(doc.config.digest)) throw new Error(`config ${doc.config.digest} missing from the layout`);
      for (const l of doc.layers) {
        seen.add(l.digest);
        if (!blobs.has(l.digest)) throw new Error(`layer ${l.digest} missing from the layout`);
      }
    }
  };
  walk(digest);
  return [...seen].sort();
}
