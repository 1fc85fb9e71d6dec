// The Distribution API client's public surface (see client.ts for the behaviour).
export {
  DistributionClient,
  DistributionError,
  DigestMismatchError,
  ConnectionError,
  TargetRefusedError,
  MANIFEST_ACCEPT,
  verifyingStream,
  nextLink,
  type BlobPushResult,
  type BlobResponse,
  type ClientOptions,
  type Descriptor,
  type ManifestResponse,
} from './client.js';
export { parseChallenge, TokenError, type Challenge, type Credentials } from './auth.js';
export { registryBaseUrl, remoteRepositoryName, isDockerHub } from './registry-url.js';
