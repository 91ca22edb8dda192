// The response schema of every route's success, by `METHOD /path` (docs/api.md, The schemas). The
// OpenAPI document publishes them; the test client checks every 2xx answer against them. Not imported by
// the route handlers: answers are not re-parsed at run time.
import type * as z from 'zod';
import { ACCOUNTS_RESPONSES } from './accounts';
import { AGENT_RESPONSES } from './agent';
import { GOVERNANCE_RESPONSES } from './governance';
import { JOBS_RESPONSES } from './jobs';
import { NODES_RESPONSES } from './nodes';
import { PUBLIC_RESPONSES } from './public';
import { SECRETS_RESPONSES } from './secrets';
import { SERVICES_RESPONSES } from './services';

export { MEDIA_TYPES } from './public';

/** routes that answer 204 with no body have no entry */
export const RESPONSES: Readonly<Record<string, z.ZodType>> = {
  ...PUBLIC_RESPONSES,
  ...ACCOUNTS_RESPONSES,
  ...JOBS_RESPONSES,
  ...SECRETS_RESPONSES,
  ...SERVICES_RESPONSES,
  ...GOVERNANCE_RESPONSES,
  ...NODES_RESPONSES,
  ...AGENT_RESPONSES,
};
