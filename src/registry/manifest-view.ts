// The shape of a manifest as the web UI shows it (GET /api/v1/repositories/{name}/manifests/{ref}).
// Types only and no imports, so the UI's build can share them (manifest-details.ts builds them).

export interface DescriptorView {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created: string | null;
  createdBy: string | null;
  comment: string | null;
  emptyLayer: boolean;
}

export interface ImageConfigSummary {
  created: string | null;
  architecture: string | null;
  os: string | null;
  variant: string | null;
  author: string | null;
  labels: Record<string, string>;
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  workingDir: string | null;
  user: string | null;
  exposedPorts: string[];
  history: HistoryEntry[];
}

export interface ManifestDetails {
  repository: string;
  digest: string;
  mediaType: string;
  kind: 'index' | 'image' | 'artifact';
  size: number;
  /** The manifest, its configuration and layers (an index: the sizes its entries declare). */
  totalSize: number;
  artifactType: string | null;
  annotations: Record<string, string>;
  subject: DescriptorView | null;
  config: (DescriptorView & { image: ImageConfigSummary | null }) | null;
  layers: DescriptorView[];
  manifests: DescriptorView[];
  tags: string[];
  referrers: DescriptorView[];
  createdAt: string;
}
