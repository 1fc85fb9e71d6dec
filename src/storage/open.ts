// Opens the blob store the configuration names.
import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { BlobStore } from './blob-store.js';
import { FilesystemBlobStore } from './filesystem.js';

export async function openBlobStore(config: Config): Promise<BlobStore> {
  if (config.storage.driver === 's3') {
    // Loaded only when configured: the AWS SDK costs memory and start-up time otherwise.
    const { S3BlobStore } = await import('./s3.js');
    const s3 = config.storage.s3;
    return new S3BlobStore({
      region: s3.region,
      bucket: s3.bucket!,
      accessKeyId: s3.accessKeyId!,
      secretAccessKey: s3.secretAccessKey!,
      forcePathStyle: s3.forcePathStyle,
      prefix: s3.prefix,
      connectTimeoutMs: s3.connectTimeoutMs,
      requestTimeoutMs: s3.requestTimeoutMs,
      maxAttempts: s3.maxAttempts,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    });
  }
  const store = new FilesystemBlobStore(resolve(config.storage.filesystem.root));
  await store.init();
  return store;
}
