// What the registry remembers besides blob bytes: repositories, blob links, manifests, tags,
// referrers and upload sessions. One interface, one driver per database.

export interface BlobLink {
  digest: string;
  size: number;
}

export interface UploadSessionRecord {
  id: string;
  repository: string;
  /** Bytes acknowledged so far. */
  size: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ManifestRecord {
  repository: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  content: Buffer;
  createdAt: Date;
}

export interface ManifestReference {
  digest: string;
  /** A blob (config, layer) or a child manifest of an index. */
  kind: 'blob' | 'manifest';
}

export interface NewManifest {
  repository: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  content: Buffer;
  references: ManifestReference[];
  /** Point this tag at the manifest in the same transaction. */
  tag?: string;
  /**
   * Check inside the transaction that every referenced blob is linked and every child manifest
   * present (MissingReferencesError otherwise): what keeps a push safe against a concurrent
   * garbage collection.
   */
  verifyReferences?: boolean;
  /** The tag may be created but never moved: putManifest throws TagConflictError when it points elsewhere. */
  tagImmutable?: boolean;
}

export interface ReferrerRecord {
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  annotations: Record<string, string> | null;
}

export interface Page {
  limit?: number;
  /** Return entries strictly after this one (lexical order). */
  after?: string;
}

export interface MetadataStore {
  repositoryExists(repository: string): Promise<boolean>;
  /** Repositories in lexical order. */
  listRepositories(page: Page): Promise<string[]>;

  /** Record the blob and link it into the repository (creating the repository). */
  linkBlob(repository: string, digest: string, size: number): Promise<void>;
  getBlobLink(repository: string, digest: string): Promise<BlobLink | undefined>;
  /** Remove the link; true when there was one. */
  unlinkBlob(repository: string, digest: string): Promise<boolean>;
  /** Any repository's link to the blob (for mounts), or undefined. */
  findBlob(digest: string): Promise<BlobLink | undefined>;
  /** Of these digests, those not linked into the repository. */
  missingBlobs(repository: string, digests: string[]): Promise<string[]>;

  createUpload(id: string, repository: string): Promise<UploadSessionRecord>;
  getUpload(repository: string, id: string): Promise<UploadSessionRecord | undefined>;
  /**
   * Take the right to write the next chunk: succeeds only when the upload is still at
   * `expectedSize` and no other writer holds an unexpired claim. Nodes of a cluster use this
   * so that two requests never write one upload at once.
   */
  claimUpload(id: string, expectedSize: number, writer: string, leaseMs: number): Promise<boolean>;
  /** Extend a claim during a long write; false when the claim was lost. */
  renewUploadClaim(id: string, writer: string, leaseMs: number): Promise<boolean>;
  /** End a claim, recording the new size (or none after a failed write); false when the claim was lost. */
  releaseUpload(id: string, writer: string, size?: number): Promise<boolean>;
  /** End every claim (start-up of a registry that alone writes its uploads: their writers died with it). */
  releaseAllUploadClaims(): Promise<number>;
  deleteUpload(id: string): Promise<void>;
  /** Every upload id the store knows (to find orphaned staged files). */
  listUploadIds(): Promise<string[]>;
  listUploadsUpdatedBefore(cutoff: Date): Promise<UploadSessionRecord[]>;

  /** Store a manifest, its references and optionally a tag, in one transaction. */
  putManifest(manifest: NewManifest): Promise<void>;
  getManifest(repository: string, digest: string): Promise<ManifestRecord | undefined>;
  getManifestByTag(repository: string, tag: string): Promise<ManifestRecord | undefined>;
  /** Of these digests, manifests not in the repository. */
  missingManifests(repository: string, digests: string[]): Promise<string[]>;
  /** Delete a manifest and every tag pointing at it; true when it existed. */
  deleteManifest(repository: string, digest: string): Promise<boolean>;
  /** Delete a tag (only while it points at `expectedDigest`, when given); true when this call deleted it. */
  deleteTag(repository: string, tag: string, expectedDigest?: string): Promise<boolean>;
  /** Tags in lexical order. */
  listTags(repository: string, page: Page): Promise<string[]>;
  listReferrers(repository: string, subjectDigest: string, artifactType?: string): Promise<ReferrerRecord[]>;

  ping(): Promise<void>;
  close(): Promise<void>;

  // Write paths safe against a concurrent garbage collection (0020_gc).
  /**
   * Link a blob whose bytes a push just made durable (recording the blob when unknown), dated
   * now. 'wait' while a collector holds a claim on the blob (it is deleting the bytes): the
   * caller waits, tries again, then checks the bytes are still there.
   */
  reserveBlobLink(repository: string, digest: string, size: number, quota?: LinkQuota): Promise<'linked' | 'wait'>;
  /** Link a blob that is recorded and not being deleted (cross-repository mount); undefined otherwise. */
  linkStoredBlob(repository: string, digest: string, quota?: LinkQuota): Promise<BlobLink | undefined>;
}

/** Thrown by putManifest when, inside its transaction, a referenced blob or child manifest is missing. */
export class MissingReferencesError extends Error {
  constructor(
    readonly blobs: string[],
    readonly manifests: string[],
  ) {
    super('manifest references missing content');
  }
}

/** Thrown by putManifest when an immutable tag, inside its transaction, points at another manifest. */
export class TagConflictError extends Error {
  constructor(readonly currentDigest: string) {
    super('the tag points at another manifest');
  }
}

/**
 * A storage quota checked inside the transaction that links a blob (so concurrent pushes
 * cannot together exceed it): a blob the namespace holds already adds nothing.
 */
export interface LinkQuota {
  namespace: string;
  limitBytes: number;
}

/** Thrown by reserveBlobLink and linkStoredBlob when the link would exceed the LinkQuota. */
export class QuotaExceededError extends Error {
  constructor(readonly usedBytes: number) {
    super('storage quota exceeded');
  }
}
