// Listings the web UI browses with: repositories with search, sort and offset pagination,
// each with its tag count and last change. Beside MetadataStore and on the same database.

export type RepositorySort = 'name' | 'updated' | 'tags';

export interface RepositorySearch {
  /** Substring of the repository name. */
  query?: string;
  /** Only repositories of these namespaces; undefined: every namespace. */
  namespaces?: string[];
  sort: RepositorySort;
  descending: boolean;
  limit: number;
  offset: number;
}

export interface RepositorySummary {
  name: string;
  tagCount: number;
  createdAt: Date;
  /** When a tag of it last moved (or the repository's creation, without tags). */
  updatedAt: Date;
}

export interface BrowseStore {
  searchRepositories(search: RepositorySearch): Promise<{ total: number; repositories: RepositorySummary[] }>;
}
