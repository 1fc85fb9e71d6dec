// Every error a client can see: one of the OCI Distribution Spec codes, with its HTTP status.
// Thrown as RegistryError anywhere in the domain; the HTTP layer renders it as JSON.

export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'internal server error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  /** Extra response headers the spec asks for with this error (e.g. Range on a 416). */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message?: string,
    detail?: unknown,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.detail = detail;
    this.headers = options.headers ?? {};
  }
}

export interface ErrorBody {
  errors: { code: ErrorCode; message: string; detail?: unknown }[];
}

export function errorBody(errors: RegistryError[]): ErrorBody {
  return {
    errors: errors.map((e) => ({ code: e.code, message: e.message, ...(e.detail === undefined ? {} : { detail: e.detail }) })),
  };
}

/** Several errors reported in one response (e.g. every blob a manifest is missing). */
export class RegistryErrors extends RegistryError {
  readonly all: RegistryError[];
  constructor(all: RegistryError[]) {
    const first = all[0];
    if (!first) throw new Error('RegistryErrors needs at least one error');
    super(first.code, first.message, first.detail, { status: first.status, headers: first.headers });
    this.all = all;
  }
}
