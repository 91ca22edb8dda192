// The CLI's API client is the typed client of client/ (retries on 429 with Retry-After, on 5xx and lost
// connections for GETs and creating POSTs, one Idempotency-Key per call). Here: the CLI's defaults for it.
import { GpupoolClient, normalizeBaseUrl as clientBaseUrl, type ClientOptions } from '../../client/client';
import { UsageError } from './errors';
import { CLI_VERSION } from './version';

export { GpupoolClient as ApiClient, toProblem, type Query, type RequestOptions } from '../../client/client';
export { isTransient, NetworkError } from '../../client/errors';

export function cliClient(baseUrl: string, apiKey: string, o: Pick<ClientOptions, 'fetch' | 'onRetry' | 'sleep'> = {}): GpupoolClient {
  return new GpupoolClient({ baseUrl: normalizeBaseUrl(baseUrl), apiKey, userAgent: `gpupool-cli/${CLI_VERSION}`, ...o });
}

/** "http://h:8787/" → "http://h:8787"; a URL without a scheme is a usage error (exit 2). */
export function normalizeBaseUrl(raw: string): string {
  try {
    return clientBaseUrl(raw);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
