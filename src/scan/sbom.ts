// SBOM documents for an image's inventory: CycloneDX 1.5 JSON and SPDX 2.3 JSON, each with
// the image as the described component and one component/package per installed package.
import { createHash, randomUUID } from 'node:crypto';
import { formatPurl } from './inventory/purl.js';
import type { InstalledPackage, Inventory } from './model.js';

export const SBOM_MEDIA_TYPES = {
  cyclonedx: 'application/vnd.cyclonedx+json',
  spdx: 'application/spdx+json',
} as const;

export type SbomFormat = keyof typeof SBOM_MEDIA_TYPES;

/** The image the SBOM describes. */
export interface SbomSubject {
  /** Repository name, e.g. "library/alpine". */
  repository: string;
  /** Manifest digest, e.g. "sha256:...". */
  digest: string;
  tag?: string;
  /** Registry host (and port) for the image's purl, e.g. "registry.example.com". */
  registry?: string;
}

export interface SbomOptions {
  /** Defaults to now. */
  created?: Date;
  tool?: { name: string; version?: string };
  /** Base of SPDX document namespaces (a URI the tool owns); a random UUID makes each unique. */
  namespaceBase?: string;
}

const DEFAULT_TOOL: { name: string; version?: string } = { name: 'oci-registry' };
const PROPERTY_PREFIX = 'oci-registry';

/** pkg:oci/<name>@<digest>?repository_url=<registry>/<repository>&tag=<tag> */
export function imagePurl(subject: SbomSubject): string {
  const name = subject.repository.slice(subject.repository.lastIndexOf('/') + 1);
  const qualifiers: Record<string, string> = {
    repository_url: subject.registry ? `${subject.registry}/${subject.repository}` : subject.repository,
  };
  if (subject.tag) qualifiers['tag'] = subject.tag;
  return formatPurl({ type: 'oci', name, version: subject.digest, qualifiers });
}

function imageName(subject: SbomSubject): string {
  return subject.registry ? `${subject.registry}/${subject.repository}` : subject.repository;
}

/** A stable id per package record: the same purl can occur at several paths. */
function packageKey(pkg: InstalledPackage): string {
  return createHash('sha256').update(`${pkg.purl}\n${pkg.path}\n${pkg.layer ?? ''}`).digest('hex').slice(0, 16);
}

function properties(pkg: InstalledPackage): { name: string; value: string }[] {
  const props: [string, string | undefined][] = [
    ['ecosystem', pkg.ecosystem],
    ['path', pkg.path],
    ['layer', pkg.layer],
    ['source-name', pkg.sourceName],
    ['source-version', pkg.sourceVersion],
  ];
  return props.filter((p): p is [string, string] => p[1] !== undefined).map(([k, v]) => ({ name: `${PROPERTY_PREFIX}:${k}`, value: v }));
}

export function cycloneDxDocument(inventory: Inventory, subject: SbomSubject, opts: SbomOptions = {}): Record<string, unknown> {
  const tool = opts.tool ?? DEFAULT_TOOL;
  const imageRef = `image:${subject.digest}`;
  const components: Record<string, unknown>[] = [];
  if (inventory.os) {
    components.push({
      type: 'operating-system',
      'bom-ref': 'os',
      name: inventory.os.id,
      ...(inventory.os.versionId ? { version: inventory.os.versionId } : {}),
      ...(inventory.os.prettyName ? { description: inventory.os.prettyName } : {}),
    });
  }
  for (const pkg of inventory.packages) {
    components.push({
      type: 'library',
      'bom-ref': `pkg:${packageKey(pkg)}`,
      name: pkg.name,
      version: pkg.version,
      purl: pkg.purl,
      ...(pkg.license ? { licenses: [{ license: { name: pkg.license } }] } : {}),
      properties: properties(pkg),
    });
  }
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: (opts.created ?? new Date()).toISOString(),
      tools: { components: [{ type: 'application', name: tool.name, ...(tool.version ? { version: tool.version } : {}) }] },
      component: {
        type: 'container',
        'bom-ref': imageRef,
        name: imageName(subject),
        version: subject.digest,
        purl: imagePurl(subject),
      },
    },
    components,
    dependencies: [{ ref: imageRef, dependsOn: components.map((c) => c['bom-ref'] as string) }],
  };
}

/** SPDX timestamps are "YYYY-MM-DDThh:mm:ssZ", without fractions of a second. */
function spdxTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

export function spdxDocument(inventory: Inventory, subject: SbomSubject, opts: SbomOptions = {}): Record<string, unknown> {
  const tool = opts.tool ?? DEFAULT_TOOL;
  const base = (opts.namespaceBase ?? 'https://spdx.oci-registry.invalid').replace(/\/+$/, '');
  const IMAGE = 'SPDXRef-Image';
  const purlRef = (locator: string) => ({ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: locator });
  const [algorithm, hex] = subject.digest.split(':');
  const packages: Record<string, unknown>[] = [
    {
      SPDXID: IMAGE,
      name: imageName(subject),
      versionInfo: subject.digest,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'CONTAINER',
      ...(algorithm === 'sha256' && hex ? { checksums: [{ algorithm: 'SHA256', checksumValue: hex }] } : {}),
      externalRefs: [purlRef(imagePurl(subject))],
    },
  ];
  if (inventory.os) {
    packages.push({
      SPDXID: 'SPDXRef-OperatingSystem',
      name: inventory.os.id,
      ...(inventory.os.versionId ? { versionInfo: inventory.os.versionId } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'OPERATING-SYSTEM',
      ...(inventory.os.prettyName ? { description: inventory.os.prettyName } : {}),
    });
  }
  for (const pkg of inventory.packages) {
    packages.push({
      SPDXID: `SPDXRef-Package-${packageKey(pkg)}`,
      name: pkg.name,
      versionInfo: pkg.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      // Package databases record free-form license strings, not always SPDX expressions.
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      ...(pkg.license ? { licenseComments: `License recorded by the package: ${pkg.license}` } : {}),
      copyrightText: 'NOASSERTION',
      sourceInfo: `${pkg.ecosystem} package recorded in /${pkg.path}${pkg.layer ? ` (layer ${pkg.layer})` : ''}`,
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: [purlRef(pkg.purl)],
    });
  }
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${imageName(subject)}@${subject.digest}`,
    documentNamespace: `${base}/${subject.repository}/${subject.digest.replace(':', '-')}-${randomUUID()}`,
    creationInfo: {
      created: spdxTime(opts.created ?? new Date()),
      creators: [`Tool: ${tool.name}${tool.version ? `-${tool.version}` : ''}`],
    },
    packages,
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: IMAGE },
      ...packages.slice(1).map((p) => ({ spdxElementId: IMAGE, relationshipType: 'CONTAINS', relatedSpdxElement: p['SPDXID'] as string })),
    ],
  };
}

/** The SBOM as the bytes and media type an artifact push needs. */
export function exportSbom(format: SbomFormat, inventory: Inventory, subject: SbomSubject, opts: SbomOptions = {}): { mediaType: string; bytes: Buffer } {
  const doc = format === 'cyclonedx' ? cycloneDxDocument(inventory, subject, opts) : spdxDocument(inventory, subject, opts);
  return { mediaType: SBOM_MEDIA_TYPES[format], bytes: Buffer.from(JSON.stringify(doc)) };
}
