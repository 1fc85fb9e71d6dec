// SBOM export of an inventory: CycloneDX 1.5 and SPDX 2.3 JSON, checked against the fields
// and value formats their schemas require, with one component/package per inventory record.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { inventoryImage } from '../../src/scan/inventory/index.js';
import type { Inventory } from '../../src/scan/model.js';
import { cycloneDxDocument, exportSbom, imagePurl, SBOM_MEDIA_TYPES, spdxDocument, type SbomSubject } from '../../src/scan/sbom.js';
import { APK_INSTALLED, buildLayer } from './fixtures.js';

const subject: SbomSubject = {
  registry: 'registry.example.com:5000',
  repository: 'team/app',
  tag: 'v1',
  digest: `sha256:${'ab'.repeat(32)}`,
};
const created = new Date('2026-03-01T10:20:30.456Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Json = Record<string, unknown>;
const objects = (v: unknown) => v as Json[];

let inventory: Inventory;
before(async () => {
  const layer = await buildLayer({
    'etc/os-release': 'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n',
    'lib/apk/db/installed': APK_INSTALLED,
    // The same package twice (lockfile and installed manifest): two records, two components.
    'app/package-lock.json': JSON.stringify({ lockfileVersion: 3, packages: { 'node_modules/express': { version: '4.18.2' } } }),
    'app/node_modules/express/package.json': JSON.stringify({ name: 'express', version: '4.18.2', license: 'MIT' }),
    'app/node_modules/@types/node/package.json': JSON.stringify({ name: '@types/node', version: '20.11.0' }),
  });
  inventory = await inventoryImage([layer]);
  assert.equal(inventory.packages.length, 5);
});

describe('CycloneDX 1.5', () => {
  test('document fields, the image as metadata component, one library per package', () => {
    const bom = cycloneDxDocument(inventory, subject, { created, tool: { name: 'oci-registry', version: '0.1.0' } });
    assert.equal(bom['bomFormat'], 'CycloneDX');
    assert.equal(bom['specVersion'], '1.5');
    assert.equal(bom['version'], 1);
    assert.match(bom['serialNumber'] as string, /^urn:uuid:/);
    assert.match((bom['serialNumber'] as string).slice('urn:uuid:'.length), UUID);

    const metadata = bom['metadata'] as Json;
    assert.equal(metadata['timestamp'], '2026-03-01T10:20:30.456Z');
    assert.deepEqual(metadata['tools'], { components: [{ type: 'application', name: 'oci-registry', version: '0.1.0' }] });
    assert.deepEqual(metadata['component'], {
      type: 'container',
      'bom-ref': `image:${subject.digest}`,
      name: 'registry.example.com:5000/team/app',
      version: subject.digest,
      purl: imagePurl(subject),
    });
    const oci = PackageURL.fromString(imagePurl(subject));
    assert.deepEqual([oci.type, oci.name, oci.version, { ...oci.qualifiers }], [
      'oci',
      'app',
      subject.digest,
      { repository_url: 'registry.example.com:5000/team/app', tag: 'v1' },
    ]);

    const components = objects(bom['components']);
    const libraries = components.filter((c) => c['type'] === 'library');
    assert.equal(libraries.length, inventory.packages.length, 'one component per package record');
    assert.deepEqual(
      components.filter((c) => c['type'] === 'operating-system'),
      [{ type: 'operating-system', 'bom-ref': 'os', name: 'alpine', version: '3.19.1', description: 'Alpine Linux v3.19' }],
    );
    for (const c of components) {
      assert.equal(typeof c['name'], 'string', 'name is required');
      assert.ok(['library', 'operating-system'].includes(c['type'] as string));
    }
    const refs = components.map((c) => c['bom-ref']);
    assert.equal(new Set(refs).size, refs.length, 'bom-refs are unique, even for two records of one purl');
    assert.deepEqual(libraries.map((c) => c['purl']).sort(), inventory.packages.map((p) => p.purl).sort());

    const musl = libraries.find((c) => c['name'] === 'musl')!;
    assert.equal(musl['version'], '1.2.4_git20230717-r4');
    assert.deepEqual(musl['licenses'], [{ license: { name: 'MIT' } }]);
    const props = Object.fromEntries(objects(musl['properties']).map((p) => [p['name'], p['value']]));
    assert.deepEqual(props, {
      'oci-registry:ecosystem': 'Alpine',
      'oci-registry:path': 'lib/apk/db/installed',
      'oci-registry:layer': inventory.packages[0]!.layer,
      'oci-registry:source-name': 'musl',
      'oci-registry:source-version': '1.2.4_git20230717-r4',
    });
    assert.equal(libraries.find((c) => c['name'] === '@types/node')!['licenses'], undefined, 'no license: no licenses field');

    // Every dependency reference points at a component; the image depends on all of them.
    assert.deepEqual(bom['dependencies'], [{ ref: `image:${subject.digest}`, dependsOn: refs }]);
  });

  test("valid against CycloneDX's own JSON schema for 1.5 (strict)", async () => {
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot5);
    const bom = exportSbom('cyclonedx', inventory, subject, { tool: { name: 'oci-registry', version: '0.1.0' } });
    assert.equal(await validator.validate(bom.bytes.toString('utf8')), null);
    // The validator does reject a document that breaks the schema.
    const broken = { ...cycloneDxDocument(inventory, subject), components: [{ type: 'container-image', name: 'x' }] };
    assert.notEqual(await validator.validate(JSON.stringify(broken)), null);
  });

  test('each document gets its own serial number', () => {
    const a = cycloneDxDocument(inventory, subject);
    const b = cycloneDxDocument(inventory, subject);
    assert.notEqual(a['serialNumber'], b['serialNumber']);
  });
});

describe('SPDX 2.3', () => {
  test('document fields, the image package, one package per record, DESCRIBES and CONTAINS', () => {
    const doc = spdxDocument(inventory, subject, { created, namespaceBase: 'https://registry.example.com/spdx/' });
    assert.equal(doc['spdxVersion'], 'SPDX-2.3');
    assert.equal(doc['dataLicense'], 'CC0-1.0');
    assert.equal(doc['SPDXID'], 'SPDXRef-DOCUMENT');
    assert.equal(doc['name'], `registry.example.com:5000/team/app@${subject.digest}`);
    const ns = doc['documentNamespace'] as string;
    assert.match(ns, new RegExp(`^https://registry\\.example\\.com/spdx/team/app/sha256-${'ab'.repeat(32)}-`));
    assert.match(ns.slice(-36), UUID);
    assert.ok(!ns.includes('#'), 'a namespace has no fragment');
    assert.deepEqual(doc['creationInfo'], { created: '2026-03-01T10:20:30Z', creators: ['Tool: oci-registry'] });

    const packages = objects(doc['packages']);
    assert.equal(packages.length, 1 + 1 + inventory.packages.length, 'image, OS, and one per record');
    const ids = packages.map((p) => p['SPDXID'] as string);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of packages) {
      assert.match(p['SPDXID'] as string, /^SPDXRef-[A-Za-z0-9.-]+$/);
      assert.equal(typeof p['name'], 'string');
      assert.equal(p['downloadLocation'], 'NOASSERTION');
      assert.equal(p['filesAnalyzed'], false);
    }
    const image = packages[0]!;
    assert.deepEqual(image['checksums'], [{ algorithm: 'SHA256', checksumValue: 'ab'.repeat(32) }]);
    assert.equal(image['primaryPackagePurpose'], 'CONTAINER');
    assert.deepEqual(image['externalRefs'], [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(subject) }]);
    assert.equal(packages[1]!['primaryPackagePurpose'], 'OPERATING-SYSTEM');

    const libraries = packages.slice(2);
    assert.deepEqual(
      libraries.map((p) => objects(p['externalRefs'])[0]!['referenceLocator']).sort(),
      inventory.packages.map((p) => p.purl).sort(),
    );
    const express = libraries.find((p) => p['name'] === 'express' && p['licenseComments'] !== undefined)!;
    assert.equal(express['versionInfo'], '4.18.2');
    assert.equal(express['licenseDeclared'], 'NOASSERTION');
    assert.equal(express['licenseComments'], 'License recorded by the package: MIT');
    assert.match(express['sourceInfo'] as string, /^npm package recorded in \/app\/node_modules\/express\/package\.json \(layer sha256:[0-9a-f]{64}\)$/);

    assert.deepEqual(doc['relationships'], [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image' },
      ...ids.slice(1).map((id) => ({ spdxElementId: 'SPDXRef-Image', relationshipType: 'CONTAINS', relatedSpdxElement: id })),
    ]);
  });

  test('namespaces are unique per document', () => {
    assert.notEqual(spdxDocument(inventory, subject)['documentNamespace'], spdxDocument(inventory, subject)['documentNamespace']);
  });
});

describe('exportSbom', () => {
  test('bytes and media type per format', () => {
    const cdx = exportSbom('cyclonedx', inventory, subject);
    assert.equal(cdx.mediaType, 'application/vnd.cyclonedx+json');
    assert.equal((JSON.parse(cdx.bytes.toString('utf8')) as Json)['bomFormat'], 'CycloneDX');
    const spdx = exportSbom('spdx', inventory, subject);
    assert.equal(spdx.mediaType, 'application/spdx+json');
    assert.equal((JSON.parse(spdx.bytes.toString('utf8')) as Json)['spdxVersion'], 'SPDX-2.3');
    assert.deepEqual(SBOM_MEDIA_TYPES, { cyclonedx: 'application/vnd.cyclonedx+json', spdx: 'application/spdx+json' });
  });

  test('an image without OS release or packages still makes valid, empty documents', async () => {
    const empty: Inventory = { packages: [] };
    const bom = cycloneDxDocument(empty, { repository: 'x', digest: `sha256:${'0'.repeat(64)}` });
    assert.equal(await new Validation.JsonStrictValidator(Spec.Version.v1dot5).validate(JSON.stringify(bom)), null);
    assert.deepEqual(bom['components'], []);
    assert.deepEqual(bom['dependencies'], [{ ref: `image:sha256:${'0'.repeat(64)}`, dependsOn: [] }]);
    const doc = spdxDocument(empty, { repository: 'x', digest: `sha256:${'0'.repeat(64)}` });
    assert.equal(objects(doc['packages']).length, 1);
    assert.equal(objects(doc['relationships']).length, 1);
  });
});
