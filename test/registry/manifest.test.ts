// parseManifest per media type, media type resolution, descriptor checks, requiredBlobs, and
// Accept-header negotiation.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest, requiredBlobs, isForeignLayer, type ParsedManifest } from '../../src/registry/manifest.js';
import { MediaType, accepts, bareMediaType, parseAccept } from '../../src/registry/media-types.js';
import { digestOf } from '../../src/registry/digest.js';
import { RegistryError } from '../../src/registry/errors.js';

const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_CONFIG_TYPE = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

const d = (seed: string) => digestOf('sha256', seed).value;
const desc = (mediaType: string, seed: string, size = 10, extra: Record<string, unknown> = {}) => ({ mediaType, digest: d(seed), size, ...extra });
const EMPTY = { mediaType: MediaType.OciEmpty, digest: digestOf('sha256', '{}').value, size: 2 };

function bytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
}

function parse(body: unknown, contentType?: string): ParsedManifest {
  return parseManifest(bytes(body), contentType);
}

/** Asserts MANIFEST_INVALID, optionally with a message matching `message`. */
function invalid(body: unknown, contentType: string | undefined, message?: RegExp): void {
  assert.throws(
    () => parse(body, contentType),
    (err: unknown) => {
      assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
      assert.equal(err.code, 'MANIFEST_INVALID');
      assert.equal(err.status, 400);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

function ociManifest(extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: desc(CONFIG_TYPE, 'config'),
    layers: [desc(LAYER_TYPE, 'layer1', 100), desc(LAYER_TYPE, 'layer2', 200)],
    ...extra,
  };
}

function ociIndex(extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      desc(MediaType.OciManifest, 'amd64', 500, { platform: { architecture: 'amd64', os: 'linux' } }),
      desc(MediaType.OciManifest, 'arm64', 501, { platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } }),
    ],
    ...extra,
  };
}

function dockerManifest(extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: desc(DOCKER_CONFIG_TYPE, 'dconfig'),
    layers: [desc(DOCKER_LAYER_TYPE, 'dlayer', 300)],
    ...extra,
  };
}

describe('parseManifest: document kinds', () => {
  test('OCI image manifest', () => {
    const m = parse(ociManifest({ annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } }), MediaType.OciManifest);
    assert.equal(m.mediaType, MediaType.OciManifest);
    assert.equal(m.config?.digest.value, d('config'));
    assert.equal(m.config?.mediaType, CONFIG_TYPE);
    assert.deepEqual(
      m.layers.map((l) => [l.mediaType, l.digest.value, l.size]),
      [
        [LAYER_TYPE, d('layer1'), 100],
        [LAYER_TYPE, d('layer2'), 200],
      ],
    );
    assert.deepEqual(m.manifests, []);
    assert.deepEqual(m.annotations, { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' });
    assert.equal(m.subject, undefined);
    assert.equal(m.artifactType, CONFIG_TYPE, 'artifactType falls back to config.mediaType');
  });

  test('OCI image index with platforms', () => {
    const m = parse(ociIndex(), MediaType.OciIndex);
    assert.equal(m.mediaType, MediaType.OciIndex);
    assert.equal(m.config, undefined);
    assert.deepEqual(m.layers, []);
    assert.deepEqual(
      m.manifests.map((x) => [x.digest.value, x.size, x.platform]),
      [
        [d('amd64'), 500, { architecture: 'amd64', os: 'linux' }],
        [d('arm64'), 501, { architecture: 'arm64', os: 'linux', variant: 'v8' }],
      ],
    );
    assert.equal(m.artifactType, undefined, 'an index has an artifactType only when it declares one');
  });

  test('OCI image index with artifactType and subject', () => {
    const m = parse(ociIndex({ artifactType: 'application/vnd.example.bundle', subject: desc(MediaType.OciManifest, 'subject') }), undefined);
    assert.equal(m.artifactType, 'application/vnd.example.bundle');
    assert.equal(m.subject?.digest.value, d('subject'));
  });

  test('an empty OCI index is valid', () => {
    assert.deepEqual(parse(ociIndex({ manifests: [] }), undefined).manifests, []);
  });

  test('Docker schema2 manifest', () => {
    const m = parse(dockerManifest(), MediaType.DockerManifest);
    assert.equal(m.mediaType, MediaType.DockerManifest);
    assert.equal(m.config?.digest.value, d('dconfig'));
    assert.equal(m.layers.length, 1);
    assert.equal(m.artifactType, DOCKER_CONFIG_TYPE);
  });

  test('Docker schema2 manifest cannot carry a subject or artifactType', () => {
    invalid(dockerManifest({ subject: desc(MediaType.DockerManifest, 's') }), undefined);
    invalid(dockerManifest({ artifactType: 'application/vnd.example' }), undefined);
  });

  test('Docker manifest list', () => {
    const body = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [desc(MediaType.DockerManifest, 'linux', 7, { platform: { architecture: 'amd64', os: 'linux', features: ['sse4'] } })],
    };
    const m = parse(body, MediaType.DockerManifestList);
    assert.equal(m.mediaType, MediaType.DockerManifestList);
    assert.equal(m.manifests[0]?.digest.value, d('linux'));
    assert.deepEqual(m.manifests[0]?.platform, { architecture: 'amd64', os: 'linux' });
    invalid({ ...body, subject: desc(MediaType.DockerManifest, 's') }, undefined, /subject/);
  });

  test('OCI artifact: artifactType with the empty config and no layers', () => {
    const m = parse({ schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/vnd.example.sbom', config: EMPTY, layers: [] }, undefined);
    assert.equal(m.artifactType, 'application/vnd.example.sbom');
    assert.equal(m.config?.mediaType, MediaType.OciEmpty);
    assert.deepEqual(m.layers, []);
  });

  test('OCI artifact: empty config, no layers, no subject and no artifactType is refused', () => {
    invalid({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: EMPTY, layers: [] }, undefined, /artifactType/);
  });

  test('OCI artifact with a subject (a signature or SBOM attached to an image)', () => {
    const m = parse(
      {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        artifactType: 'application/vnd.example.signature',
        config: EMPTY,
        layers: [desc('application/vnd.example.signature.payload', 'sig', 64)],
        subject: desc(MediaType.OciManifest, 'image', 1234),
        annotations: { 'org.opencontainers.image.created': 'now' },
      },
      MediaType.OciManifest,
    );
    assert.equal(m.subject?.digest.value, d('image'));
    assert.equal(m.subject?.size, 1234);
    assert.equal(m.subject?.mediaType, MediaType.OciManifest);
    assert.equal(m.artifactType, 'application/vnd.example.signature');
  });

  test('artifactType: the manifest field wins over config.mediaType', () => {
    assert.equal(parse(ociManifest({ artifactType: 'application/vnd.example.thing' }), undefined).artifactType, 'application/vnd.example.thing');
    assert.equal(parse(ociManifest({ config: desc('application/vnd.example.config.v1+json', 'c') }), undefined).artifactType, 'application/vnd.example.config.v1+json');
  });

  test('descriptor extras (artifactType, annotations, urls) are kept', () => {
    const m = parse(ociManifest({ layers: [desc(LAYER_TYPE, 'l', 1, { artifactType: 'application/x-a', annotations: { k: 'v' }, urls: ['https://example.com/l'] })] }), undefined);
    assert.deepEqual(m.layers[0]?.annotations, { k: 'v' });
    assert.equal(m.layers[0]?.artifactType, 'application/x-a');
    assert.deepEqual(m.layers[0]?.urls, ['https://example.com/l']);
  });

  test('parses a body that is a view into a larger buffer', () => {
    const json = bytes(ociManifest());
    const big = new Uint8Array(json.length + 20).fill(0x20);
    big.set(json, 10);
    const view = big.subarray(10, 10 + json.length);
    assert.equal(parseManifest(view, undefined).layers.length, 2);
  });
});

describe('parseManifest: structure', () => {
  test('not JSON, or not an object', () => {
    invalid('{', undefined, /JSON/);
    invalid('', undefined, /JSON/);
    invalid('[]', undefined, /object/);
    invalid('null', undefined, /object/);
    invalid('"x"', undefined, /object/);
  });

  test('schemaVersion must be 2', () => {
    invalid(ociManifest({ schemaVersion: 3 }), undefined, /schemaVersion/);
    invalid(ociManifest({ schemaVersion: '2' }), undefined, /schemaVersion/);
    invalid(ociManifest({ schemaVersion: undefined }), undefined, /schemaVersion/);
  });

  test('an image manifest needs a config and a layers array', () => {
    invalid(ociManifest({ config: undefined }), undefined, /config/);
    invalid(ociManifest({ layers: undefined }), undefined, /layers/);
    invalid(ociManifest({ layers: {} }), undefined, /layers/);
  });

  test('an index needs a manifests array', () => {
    invalid({ schemaVersion: 2, mediaType: MediaType.OciIndex }, undefined, /manifests/);
    invalid(ociIndex({ manifests: 'x' }), undefined, /manifests/);
  });

  test('subject must be a descriptor', () => {
    invalid(ociManifest({ subject: 'sha256:abc' }), undefined, /subject/);
    invalid(ociManifest({ subject: { mediaType: MediaType.OciManifest, size: 1 } }), undefined, /subject\.digest/);
  });
});

describe('parseManifest: media type resolution', () => {
  test('the body mediaType is used when Content-Type agrees or says nothing useful', () => {
    for (const ct of [undefined, MediaType.OciManifest, `${MediaType.OciManifest}; charset=utf-8`, 'application/json', 'application/octet-stream', '']) {
      assert.equal(parse(ociManifest(), ct).mediaType, MediaType.OciManifest, String(ct));
    }
  });

  test('Content-Type is compared without parameters and case-insensitively', () => {
    assert.equal(parse(ociManifest(), 'Application/VND.OCI.Image.Manifest.v1+JSON; charset=UTF-8').mediaType, MediaType.OciManifest);
  });

  test('Content-Type that disagrees with the body mediaType is refused', () => {
    invalid(ociManifest(), MediaType.DockerManifest, /Content-Type/);
    invalid(ociIndex(), MediaType.OciManifest, /Content-Type/);
  });

  test('without a body mediaType, Content-Type decides', () => {
    const { mediaType: _drop, ...body } = dockerManifest();
    assert.equal(parse(body, MediaType.DockerManifest).mediaType, MediaType.DockerManifest);
    assert.equal(parse(body, MediaType.OciManifest).mediaType, MediaType.OciManifest);
  });

  test('without either, the shape decides (OCI allows omitting mediaType)', () => {
    const { mediaType: _m, ...manifest } = ociManifest();
    const { mediaType: _i, ...index } = ociIndex();
    assert.equal(parse(manifest, undefined).mediaType, MediaType.OciManifest);
    assert.equal(parse(index, 'application/json').mediaType, MediaType.OciIndex);
    invalid({ schemaVersion: 2 }, undefined, /media type/);
  });

  test('Docker schema 1 is refused however it is announced', () => {
    invalid({ schemaVersion: 1, name: 'a', tag: 'b', fsLayers: [], history: [] }, undefined, /schema 1/);
    invalid({ schemaVersion: 1, name: 'a', tag: 'b', fsLayers: [], history: [] }, MediaType.DockerSchema1Signed, /schema 1/);
    invalid({ ...ociManifest(), mediaType: MediaType.DockerSchema1 }, undefined, /schema 1/);
    invalid({ ...ociManifest(), mediaType: MediaType.DockerSchema1Signed }, undefined, /schema 1/);
  });

  test('unknown media types are refused, in the body or in Content-Type', () => {
    invalid(ociManifest({ mediaType: 'application/vnd.example.manifest+json' }), undefined, /unsupported/);
    const { mediaType: _m, ...body } = ociManifest();
    invalid(body, 'application/vnd.example.manifest+json', /unsupported/);
    invalid(body, 'text/plain', /unsupported/);
  });

  test('a non-string body mediaType is refused', () => {
    invalid(ociManifest({ mediaType: 42 }), undefined, /mediaType/);
  });
});

describe('parseManifest: descriptors', () => {
  const withLayer = (layer: unknown) => ociManifest({ layers: [layer] });

  test('bad digest', () => {
    invalid(withLayer({ mediaType: LAYER_TYPE, digest: 'sha256:1234', size: 1 }), undefined, /layers\[0\]\.digest/);
    invalid(withLayer({ mediaType: LAYER_TYPE, digest: `sha256:${'A'.repeat(64)}`, size: 1 }), undefined, /digest/);
    invalid(withLayer({ mediaType: LAYER_TYPE, digest: `md5:${'a'.repeat(32)}`, size: 1 }), undefined, /digest/);
    invalid(withLayer({ mediaType: LAYER_TYPE, size: 1 }), undefined, /digest is required/);
    invalid(withLayer({ mediaType: LAYER_TYPE, digest: 12, size: 1 }), undefined, /digest/);
    invalid(ociManifest({ config: { mediaType: CONFIG_TYPE, digest: 'nope', size: 1 } }), undefined, /config\.digest/);
  });

  test('size must be a non-negative integer', () => {
    for (const size of [-1, 1.5, '10', null, Number.MAX_SAFE_INTEGER + 2, undefined]) {
      invalid(withLayer({ mediaType: LAYER_TYPE, digest: d('x'), size }), undefined, /size/);
    }
    assert.equal(parse(withLayer({ mediaType: LAYER_TYPE, digest: d('x'), size: 0 }), undefined).layers[0]?.size, 0);
  });

  test('mediaType is required and must look like a media type', () => {
    invalid(withLayer({ digest: d('x'), size: 1 }), undefined, /layers\[0\]\.mediaType is required/);
    invalid(withLayer({ mediaType: 7, digest: d('x'), size: 1 }), undefined, /mediaType/);
    invalid(withLayer({ mediaType: 'not a media type', digest: d('x'), size: 1 }), undefined, /mediaType/);
    invalid(withLayer({ mediaType: 'application/', digest: d('x'), size: 1 }), undefined, /mediaType/);
  });

  test('a descriptor must be an object', () => {
    invalid(withLayer('sha256:abc'), undefined, /layers\[0\]/);
    invalid(withLayer(null), undefined, /layers\[0\]/);
    invalid(withLayer([]), undefined, /layers\[0\]/);
  });

  test('urls must be strings; platform needs architecture and os', () => {
    invalid(withLayer(desc(LAYER_TYPE, 'l', 1, { urls: [1] })), undefined, /urls/);
    invalid(withLayer(desc(LAYER_TYPE, 'l', 1, { urls: 'https://x' })), undefined, /urls/);
    invalid(ociIndex({ manifests: [desc(MediaType.OciManifest, 'm', 1, { platform: { os: 'linux' } })] }), undefined, /platform/);
  });

  test('annotations must map strings to strings', () => {
    invalid(ociManifest({ annotations: { a: 1 } }), undefined, /annotations/);
    invalid(ociManifest({ annotations: { a: null } }), undefined, /annotations/);
    invalid(ociManifest({ annotations: { a: { b: 'c' } } }), undefined, /annotations/);
    invalid(ociManifest({ annotations: ['a'] }), undefined, /annotations/);
    invalid(ociManifest({ annotations: 'a=b' }), undefined, /annotations/);
    invalid(withLayer(desc(LAYER_TYPE, 'l', 1, { annotations: { a: true } })), undefined, /layers\[0\]\.annotations/);
    assert.deepEqual(parse(ociManifest({ annotations: {} }), undefined).annotations, {});
  });

  test('artifactType must be a media type', () => {
    invalid(ociManifest({ artifactType: 5 }), undefined, /artifactType/);
    invalid(ociManifest({ artifactType: 'sbom' }), undefined, /artifactType/);
  });
});

describe('requiredBlobs', () => {
  test('config and layers of an image, in order', () => {
    const m = parse(ociManifest(), undefined);
    assert.deepEqual(
      requiredBlobs(m).map((b) => b.digest.value),
      [d('config'), d('layer1'), d('layer2')],
    );
  });

  test('foreign and non-distributable layers are skipped', () => {
    const m = parse(
      dockerManifest({
        layers: [
          desc('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'foreign', 1, { urls: ['https://example.com/f'] }),
          desc(DOCKER_LAYER_TYPE, 'normal', 2),
          desc('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'nondist', 3),
          desc(DOCKER_LAYER_TYPE, 'with-urls', 4, { urls: ['https://example.com/u'] }),
        ],
      }),
      undefined,
    );
    assert.deepEqual(
      requiredBlobs(m).map((b) => b.digest.value),
      [d('dconfig'), d('normal')],
    );
    assert.equal(isForeignLayer(m.layers[1]!), false);
    assert.equal(isForeignLayer({ ...m.layers[1]!, urls: [] }), false, 'an empty urls list is not foreign');
  });

  test('an index requires no blobs', () => {
    assert.deepEqual(requiredBlobs(parse(ociIndex(), undefined)), []);
  });
});

describe('Accept negotiation', () => {
  test('no header means no preference', () => {
    assert.deepEqual(parseAccept(undefined), []);
    assert.equal(accepts([], MediaType.OciManifest), true);
  });

  test('a list with parameters and whitespace', () => {
    assert.deepEqual(parseAccept(`${MediaType.OciManifest}, ${MediaType.DockerManifest};q=0.9 ,  */*;q=0.1`), [
      MediaType.OciManifest,
      MediaType.DockerManifest,
      '*/*',
    ]);
  });

  test('several Accept headers are joined', () => {
    assert.deepEqual(parseAccept([MediaType.OciIndex, `${MediaType.DockerManifestList}, ${MediaType.OciManifest}`]), [
      MediaType.OciIndex,
      MediaType.DockerManifestList,
      MediaType.OciManifest,
    ]);
  });

  test('q=0 entries are dropped, other weights kept', () => {
    for (const q of ['q=0', 'q=0.0', 'q=0.000', 'Q=0', ' q=0 ']) {
      assert.deepEqual(parseAccept(`${MediaType.OciManifest};${q}, ${MediaType.OciIndex}`), [MediaType.OciIndex], q);
    }
    for (const q of ['q=0.001', 'q=0.5', 'q=1']) {
      assert.deepEqual(parseAccept(`${MediaType.OciManifest};${q}`), [MediaType.OciManifest], q);
    }
  });

  test('types are lower-cased and empty entries skipped', () => {
    assert.deepEqual(parseAccept('Application/VND.OCI.Image.Index.v1+JSON,, ,'), [MediaType.OciIndex]);
  });

  test('accepts: exact, */*, type/* and refusals', () => {
    assert.equal(accepts([MediaType.OciManifest], MediaType.OciManifest), true);
    assert.equal(accepts([MediaType.OciManifest], MediaType.OciIndex), false);
    assert.equal(accepts(['*/*'], MediaType.DockerManifest), true);
    assert.equal(accepts(['application/*'], MediaType.DockerManifest), true);
    assert.equal(accepts(['text/*'], MediaType.DockerManifest), false);
    assert.equal(accepts(parseAccept(`${MediaType.OciManifest};q=0, ${MediaType.OciIndex}`), MediaType.OciManifest), false);
  });

  test('bareMediaType strips parameters', () => {
    assert.equal(bareMediaType('Application/JSON; charset=utf-8'), 'application/json');
    assert.equal(bareMediaType(' ; x=y'), undefined);
    assert.equal(bareMediaType(undefined), undefined);
  });
});
