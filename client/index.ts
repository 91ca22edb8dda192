// gpupool's typed API client, for applications: `import { GpupoolClient } from 'gpupool'` (docs/cli.md, "The client library").
export { GpupoolClient, normalizeBaseUrl, toProblem, type ClientOptions, type Query, type RequestOptions, type RetryEvent } from './client';
export { ApiError, NetworkError, isTransient, type Problem } from './errors';
export { DEFAULT_RETRY, parseRetryAfter, type RetryOptions } from './retry';
export type * from './types';
