// What an image scan finds: the OS release and the installed packages, per ecosystem.
// Shared by the inventory extractors (src/scan/inventory) and the vulnerability matcher (src/scan/vuln).

/** Package ecosystems the scanner knows; OS packages are matched with the image's OS release. */
export type Ecosystem = 'Debian' | 'Ubuntu' | 'Alpine' | 'RPM' | 'npm' | 'PyPI' | 'Go' | 'Maven';

/** Fields of /etc/os-release (or /usr/lib/os-release). */
export interface OsRelease {
  /** ID, e.g. debian, ubuntu, alpine, rhel, rocky, almalinux, fedora, opensuse-leap. */
  id: string;
  /** VERSION_ID, e.g. 12, 22.04, 3.19.1, 9.3. */
  versionId?: string;
  versionCodename?: string;
  prettyName?: string;
  idLike?: string[];
}

export interface InstalledPackage {
  ecosystem: Ecosystem;
  name: string;
  /** Exactly as the package database records it (dpkg: [epoch:]upstream[-revision]; rpm: [epoch:]version-release; Go: v1.2.3). */
  version: string;
  /** OS packages: the source package when it differs from the binary one (Debian and Alpine advisories name source packages). */
  sourceName?: string;
  sourceVersion?: string;
  /** Where the record was found in the image's filesystem, without a leading slash. */
  path: string;
  /** Digest of the layer that last wrote that record. */
  layer?: string;
  arch?: string;
  license?: string;
  /** Package URL (https://github.com/package-url/purl-spec), e.g. pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12 */
  purl: string;
}

export interface Inventory {
  os?: OsRelease;
  packages: InstalledPackage[];
}
