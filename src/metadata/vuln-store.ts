// The vulnerability database: OSV advisories as imported (`registry vulndb import`), one row
// per package an advisory names for lookup, and a record of every import, so the app can tell
// when the database changed (images are rescanned then). Beside MetadataStore, on the same
// database. The store keeps advisories as text; reading OSV is the scanner's business.

export interface AdvisoryPackage {
  /** The OSV ecosystem string as the advisory writes it, e.g. "Debian:12", "Alpine:v3.19". */
  ecosystem: string;
  /** The ecosystem without its suffix ("Debian"): what lookups group by. */
  family: string;
  /** The package name as looked up (PyPI names PEP 503-normalised). */
  name: string;
}

export interface StoredAdvisory {
  id: string;
  modified: Date;
  /** The OSV JSON document. */
  content: string;
}

export interface NewAdvisory extends StoredAdvisory {
  packages: AdvisoryPackage[];
}

export interface VulnImportRecord {
  /** What was imported (paths), for the operator. */
  source: string;
  startedAt: Date;
  finishedAt: Date;
  added: number;
  updated: number;
  removed: number;
  skipped: number;
  invalid: number;
}

export interface VulnDbState {
  /** Increases with every import that changed an advisory; 0 before the first. */
  version: number;
  /** When the database last changed, and when an import last ran (changing anything or not). */
  changedAt: Date | null;
  lastImportAt: Date | null;
  advisories: number;
}

export interface VulnStore {
  /** The stored modified times of those of the advisories that are stored. */
  modifiedTimes(ids: string[]): Promise<Map<string, Date>>;
  /** Insert or replace advisories (with their package rows) and delete others, in one transaction. */
  applyChanges(changes: { put: NewAdvisory[]; remove: string[] }): Promise<{ removed: number }>;
  /** Advisories naming any of the packages (by family and lookup name), each once. */
  findByPackages(family: string, names: string[]): Promise<StoredAdvisory[]>;
  getAdvisory(id: string): Promise<StoredAdvisory | undefined>;
  /** Record a finished import; the version moves on when it changed anything. */
  recordImport(record: VulnImportRecord): Promise<VulnDbState>;
  state(): Promise<VulnDbState>;
}
