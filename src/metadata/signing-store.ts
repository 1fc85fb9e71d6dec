// Supply-chain settings per namespace: the public keys signatures are verified against and the
// pull policy (signature required, vulnerability threshold, allow-listed advisories). Beside
// MetadataStore, on the same database; keyed by namespace name like the other policies.

export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW';
export const SEVERITIES: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];

export interface SigningKey {
  id: string;
  namespace: string;
  /** Unique in the namespace; what signature listings name. */
  name: string;
  /** PEM SubjectPublicKeyInfo, as uploaded. */
  publicKey: string;
  createdBy: string;
  createdAt: Date;
}

export interface PullPolicy {
  namespace: string;
  requireSignature: boolean;
  /** Refuse images with a finding at or above this severity; null: no threshold. */
  blockSeverity: Severity | null;
  /** Advisory ids or aliases whose findings never block. */
  allowAdvisories: string[];
  updatedBy: string;
  updatedAt: Date;
}

export interface SigningStore {
  listKeys(namespace: string): Promise<SigningKey[]>;
  /** Throws when the namespace has a key of that name already. */
  addKey(key: Pick<SigningKey, 'namespace' | 'name' | 'publicKey' | 'createdBy'>): Promise<SigningKey>;
  deleteKey(namespace: string, id: string): Promise<SigningKey | undefined>;

  getPullPolicy(namespace: string): Promise<PullPolicy | undefined>;
  setPullPolicy(policy: Omit<PullPolicy, 'updatedAt'>): Promise<PullPolicy>;

  /** Digests of the indexes (manifest lists) of the repository that list the manifest. */
  indexesListing(repository: string, digest: string): Promise<string[]>;
}
