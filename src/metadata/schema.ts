// Table shapes shared by every SQL driver. Timestamps are epoch milliseconds; PostgreSQL
// returns bigint columns as strings, so readers go through toNumber().
import type { ColumnType } from 'kysely';

type Int = ColumnType<number | string, number, number>;

export interface RepositoriesTable {
  name: string;
  created_at: Int;
}

export interface BlobsTable {
  digest: string;
  size: Int;
  created_at: Int;
}

export interface RepositoryBlobsTable {
  repository: string;
  digest: string;
  created_at: Int;
}

export interface ManifestsTable {
  repository: string;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  subject_digest: string | null;
  annotations: string | null;
  size: Int;
  content: Buffer;
  created_at: Int;
}

export interface ManifestReferencesTable {
  repository: string;
  manifest_digest: string;
  child_digest: string;
  kind: string;
}

export interface TagsTable {
  repository: string;
  name: string;
  manifest_digest: string;
  updated_at: Int;
}

export interface UploadsTable {
  id: string;
  repository: string;
  size: Int;
  /** The request currently writing a chunk, and until when its claim holds. */
  writer: ColumnType<string | null, string | null | undefined, string | null>;
  lease_until: ColumnType<number | string | null, number | null | undefined, number | null>;
  created_at: Int;
  updated_at: Int;
}

export interface Database {
  repositories: RepositoriesTable;
  blobs: BlobsTable;
  repository_blobs: RepositoryBlobsTable;
  manifests: ManifestsTable;
  manifest_references: ManifestReferencesTable;
  tags: TagsTable;
  uploads: UploadsTable;
}

export function toNumber(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}
