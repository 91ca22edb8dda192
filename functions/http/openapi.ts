// The OpenAPI 3.1 document, generated from the same zod schemas the handlers validate with, and the
// response schemas (./responses) the test client checks every success answer against (docs/api.md).
import * as z from 'zod';
import { FinishRequestSchema, HeartbeatRequestSchema, LogsRequestSchema, RegisterNodeSchema, SessionRequestSchema, StartRequestSchema } from '../domain/agent-protocol';
import { CreateAccountSchema, ListJobsQuerySchema, ListQuerySchema, LogsQuerySchema, MintSchema, PatchNodeSchema, StakeSchema, SubmitJobSchema } from '../domain/schemas';
import { ScoresQuerySchema } from '../usecases/checker-scores';
import { AccountLimitsPatchSchema } from '../domain/account-limits';
import { OffersQuerySchema } from '../usecases/offers';
import { ProblemSchema } from './kit/problem';
import { CreateFileSchema } from '../domain/files/schemas';
import { CheckpointRequestSchema, OutputsRequestSchema } from '../domain/files/protocol';
import { SetSecretSchema } from '../domain/secrets/limits';
import { CreateServiceSchema, PatchServiceSchema } from '../domain/service/schemas';
import { RegisterCheckerSchema, SignedCheckerReportSchema } from '../domain/checker/network';
import { ROUTES } from './routes';
import { MEDIA_TYPES, RESPONSES } from './responses';
import { SUMMARIES } from './summaries';
import { CREATING } from './kit/creating';
import type { Request } from './kit/request';

const BODIES: Record<string, z.ZodType> = {
  'POST /v1/accounts': CreateAccountSchema,
  'POST /v1/accounts/{id}/credits': MintSchema,
  'POST /v1/stake': StakeSchema,
  'POST /v1/unstake': StakeSchema,
  'POST /v1/jobs': SubmitJobSchema,
  'POST /v1/files': CreateFileSchema,
  'POST /v1/agent/jobs/{id}/outputs': OutputsRequestSchema,
  'POST /v1/agent/jobs/{id}/checkpoint': CheckpointRequestSchema,
  'POST /v1/secrets': SetSecretSchema,
  'POST /v1/services': CreateServiceSchema,
  'PATCH /v1/services/{id}': PatchServiceSchema,
  'POST /v1/nodes': RegisterNodeSchema,
  'PATCH /v1/nodes/{id}': PatchNodeSchema,
  'PATCH /v1/accounts/{id}/limits': AccountLimitsPatchSchema,
  'POST /v1/agent/session': SessionRequestSchema,
  'POST /v1/agent/heartbeat': HeartbeatRequestSchema,
  'POST /v1/agent/jobs/{id}/start': StartRequestSchema,
  'POST /v1/agent/jobs/{id}/logs': LogsRequestSchema,
  'POST /v1/agent/jobs/{id}/finish': FinishRequestSchema,
  'POST /v1/checkers': RegisterCheckerSchema,
  'POST /v1/checkers/reports': SignedCheckerReportSchema,
};
const QUERIES: Record<string, z.ZodObject> = {
  'GET /v1/jobs': ListJobsQuerySchema,
  'GET /v1/nodes': ListQuerySchema,
  'GET /v1/services': ListQuerySchema,
  'GET /v1/files': ListQuerySchema,
  'GET /v1/burst': ListQuerySchema,
  'GET /v1/accounts/{id}/entries': ListQuerySchema,
  'GET /v1/jobs/{id}/logs': LogsQuerySchema,
  'GET /v1/offers': OffersQuerySchema,
  'GET /v1/nodes/{id}/scores': ScoresQuerySchema,
};
const SUCCESS: Record<string, number> = {
  'POST /v1/jobs': 202,
  'DELETE /v1/jobs/{id}': 202,
  'POST /v1/files': 201,
  'DELETE /v1/keys/{keyId}': 204,
  'DELETE /v1/secrets/{name}': 204,
  'DELETE /v1/files/{id}': 204,
  'DELETE /v1/services/{id}': 202,
  'POST /v1/nodes/{id}/release': 200,
  'POST /v1/licenses/{id}/reinstate': 200,
  'POST /v1/accounts/{id}/webhook-secret': 200,
  'POST /v1/stake': 200,
  'POST /v1/unstake': 200,
};

const schema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
/** what the API answers: defaults applied, transforms done */
const answerSchema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' });

const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'the same key and body within 24 h return the first answer and create nothing new; the same key with another body is a 422',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
};

function success(key: string, status: number) {
  if (status === 204) return { description: 'done; no body' };
  const s = RESPONSES[key];
  // a route without one still gets its document (test/api/openapi-document.test.ts fails on the gap)
  return { description: SUMMARIES[key] ?? 'success', content: { [MEDIA_TYPES[key] ?? 'application/json']: { schema: s ? answerSchema(s) : {} } } };
}
const problemRef = { $ref: '#/components/schemas/Problem' };
const errorResponses = (isPublic: boolean) =>
  Object.fromEntries(
    (isPublic ? ['400', '429'] : ['400', '401', '403', '404', '409', '413', '415', '422', '429']).map((code) => [
      code,
      { description: code, content: { 'application/problem+json': { schema: problemRef } } },
    ]),
  );

let cached: Record<string, unknown> | undefined;

/**
 * The document, with `servers` for where it was fetched: the stage (or base path) the caller used, as a
 * URL relative to the document, then API Gateway's URL with the stage as a variable.
 */
export function openApiDocument(served?: Request['served']) {
  const basePath = served?.basePath && /^(\/[A-Za-z0-9._~-]+)+$/.test(served.basePath) ? served.basePath : '';
  const stage = served?.stage && /^[A-Za-z0-9_-]+$/.test(served.stage) ? served.stage : (process.env.GPUPOOL_STAGE ?? 'dev');
  const servers = [
    { url: basePath || '/', description: basePath ? `this deployment, stage ${stage}` : 'this deployment' },
    {
      url: 'https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}',
      description: 'API Gateway (the ApiUrl output of the control-plane stack): the stage is the first segment of the path',
      variables: {
        restApiId: { default: served?.apiId && /^[a-z0-9]+$/.test(served.apiId) ? served.apiId : 'restApiId' },
        region: { default: process.env.AWS_REGION ?? 'us-east-1' },
        stage: { default: stage },
      },
    },
  ];
  return { ...baseDocument(), servers };
}

function baseDocument(): Record<string, unknown> {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const key = `${r.method} ${r.path}`;
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = QUERIES[key]
      ? Object.entries(QUERIES[key].shape).map(([name, s]) => ({ name, in: 'query', required: false, schema: schema(s as z.ZodType) }))
      : [];
    const status = SUCCESS[key] ?? (r.method === 'POST' && !r.path.startsWith('/v1/agent') ? 201 : 200);
    const isPublic = r.roles.length === 0;
    paths[r.path] ??= {};
    paths[r.path][r.method.toLowerCase()] = {
      summary: SUMMARIES[key],
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, '').replace(/[/.](\w)/g, (_m, c: string) => c.toUpperCase())}`,
      tags: [r.group],
      ...(isPublic ? { security: [] } : { description: `Roles: ${r.roles.join(', ')}` }),
      parameters: [...params, ...query, ...(CREATING.has(key) ? [IDEMPOTENCY_KEY] : [])],
      ...(BODIES[key] ? { requestBody: { required: true, content: { 'application/json': { schema: schema(BODIES[key]) } } } } : {}),
      responses: { [String(status)]: success(key, status), ...errorResponses(isPublic) },
    };
  }
  cached = {
    openapi: '3.1.0',
    info: { title: 'gpupool API', version: '1.0.0', description: 'Pooled GPUs: submit jobs, offer nodes, settle in credits.' },
    security: [{ apiKey: [] }],
    components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } }, schemas: { Problem: schema(ProblemSchema) } },
    paths,
  };
  return cached;
}
