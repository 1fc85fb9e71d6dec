// A minimal OCI image layout on disk (oci-layout, index.json, blobs/sha256/*) with gzip'ed tar
// layers of pseudo-random files, for driving skopeo. The tar writer covers exactly what is
// needed here: regular files with a ustar header.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PatternData, sha256 } from './data.js';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from './http.js';

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A tar archive holding the given regular files (names under 100 bytes). */
export function tarOf(files: { name: string; content: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    if (Buffer.byteLength(file.name) >= 100) throw new Error(`tar name too long: ${file.name}`);
    const header = Buffer.alloc(512);
    header.write(file.name, 0, 'utf8');
    header.write(octal(0o644, 8), 100, 'ascii');
    header.write(octal(0, 8), 108, 'ascii');
    header.write(octal(0, 8), 116, 'ascii');
    header.write(octal(file.content.length, 12), 124, 'ascii');
    header.write(octal(1_700_000_000, 12), 136, 'ascii');
    header.write('        ', 148, 'ascii');
    header.write('0', 156, 'ascii');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    parts.push(header, file.content);
    const pad = (512 - (file.content.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface Layout {
  dir: string;
  manifestDigest: string;
  /** Bytes of all blobs (layers + config) and the manifest. */
  totalBytes: number;
  layers: number;
}

/** Write an OCI layout with one image tagged `tag`: one layer per entry of `layerSizes`. */
export async function writeLayout(dir: string, seed: string, layerSizes: number[], tag = 'latest'): Promise<Layout> {
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  const putBlob = async (content: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha256(content);
    await writeFile(join(blobsDir, digest.slice('sha256:'.length)), content);
    return { digest, size: content.length };
  };
  const layers = [];
  const diffIds = [];
  let totalBytes = 0;
  for (const [i, size] of layerSizes.entries()) {
    const tar = tarOf([{ name: `bench/${seed}/layer-${i}.bin`, content: new PatternData(`${seed}-layer-${i}`, size).bytes() }]);
    diffIds.push(sha256(tar));
    const blob = await putBlob(gzipSync(tar, { level: 1 }));
    layers.push({ mediaType: OCI_LAYER_GZIP, ...blob });
    totalBytes += blob.size;
  }
  const config = await putBlob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/true'] },
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: layerSizes.map(() => ({ created_by: 'registry benchmark' })),
      }),
    ),
  );
  const manifest = await putBlob(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...config }, layers })),
  );
  totalBytes += config.size + manifest.size;
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: OCI_MANIFEST, ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return { dir, manifestDigest: manifest.digest, totalBytes, layers: layerSizes.length };
}
