// The OpenAPI document as built (functions/http/openapi.ts): valid for an independent validator
// (@apidevtools/swagger-parser, which dereferences and checks it against the OpenAPI 3.1 schema), every
// success response carries its schema, every operation a summary, the creating POSTs the Idempotency-Key
// header, and `servers` names the stage the document was fetched through. That real answers match these
// schemas is checked by the test client on every 2xx (test/helpers/answer-schemas.ts).
import SwaggerParser from '@apidevtools/swagger-parser';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { CREATING } from '../../functions/http/kit/creating';
import { toRequest } from '../../functions/http/kit/request';
import { openApiDocument } from '../../functions/http/openapi';
import { RESPONSES } from '../../functions/http/responses';
import { ROUTES } from '../../functions/http/routes';

const key = (r: { method: string; path: string }) => `${r.method} ${r.path}`;
const op = (doc: any, r: { method: string; path: string }) => doc.paths[r.path][r.method.toLowerCase()];
const success = (o: any) => Object.entries(o.responses as Record<string, any>).find(([code]) => Number(code) < 300)!;

/** what API Gateway sends for GET /v1/openapi.json called through stage `prod` */
const viaStage = (stage: string, path = '/v1/openapi.json') =>
  ({ httpMethod: 'GET', resource: path, path, headers: {}, body: null, requestContext: { stage, path: `/${stage}${path}`, apiId: 'abc123xyz', requestId: 'r' } }) as unknown as APIGatewayProxyEvent;

describe('the OpenAPI document', () => {
  const doc = openApiDocument(toRequest(viaStage('prod')).served) as any;

  it('validates with @apidevtools/swagger-parser (an independent validator)', async () => {
    const api = await SwaggerParser.validate(structuredClone(doc));
    expect(api.info.title).toBe('gpupool API');
    expect(Object.keys(api.paths ?? {}).length).toBe(new Set(ROUTES.map((r) => r.path)).size);
  });

  it('documents every success answer with a filled schema, from functions/http/responses', () => {
    const empty: string[] = [];
    for (const r of ROUTES) {
      const [code, res] = success(op(doc, r));
      if (code === '204') {
        expect(res.content, key(r)).toBeUndefined();
        expect(RESPONSES[key(r)], `${key(r)} answers 204 with no body`).toBeUndefined();
        continue;
      }
      const [media] = Object.keys(res.content);
      const schema = res.content[media].schema;
      if (!RESPONSES[key(r)] || Object.keys(schema).filter((k) => k !== '$schema').length === 0) empty.push(key(r));
    }
    expect(empty).toEqual([]);
    // nothing documented for a route that does not exist
    expect(Object.keys(RESPONSES).filter((k) => !ROUTES.some((r) => key(r) === k))).toEqual([]);
  });

  it('names the fields of the answers, with their types', () => {
    const job = success(op(doc, { method: 'GET', path: '/v1/jobs/{id}' }))[1].content['application/json'].schema;
    expect(job.properties.job.properties.status.enum).toContain('QUEUED');
    expect(job.properties.job.required).toEqual(expect.arrayContaining(['id', 'status', 'attempts', 'cost']));
    const balance = success(op(doc, { method: 'GET', path: '/v1/balance' }))[1].content['application/json'].schema;
    expect(Object.keys(balance.properties)).toEqual(expect.arrayContaining(['accountId', 'available', 'held', 'staked', 'symbol']));
    const script = success(op(doc, { method: 'GET', path: '/install.sh' }))[1].content;
    expect(Object.keys(script)).toEqual(['text/x-shellscript']);
  });

  it('gives every operation a summary', () => {
    const missing = ROUTES.filter((r) => typeof op(doc, r).summary !== 'string' || op(doc, r).summary.length < 4).map(key);
    expect(missing).toEqual([]);
  });

  it('lists the Idempotency-Key header on exactly the routes that honour it', () => {
    for (const r of ROUTES) {
      const header = (op(doc, r).parameters as any[]).find((p) => p.in === 'header' && p.name === 'Idempotency-Key');
      expect(!!header, key(r)).toBe(CREATING.has(key(r)));
    }
    expect(CREATING.size).toBeGreaterThanOrEqual(6);
  });

  it("has a server entry with the stage it was fetched through, and API Gateway's URL with the stage as a variable", () => {
    expect(doc.servers[0]).toMatchObject({ url: '/prod' });
    expect(doc.servers[1]).toMatchObject({ url: 'https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}' });
    expect(doc.servers[1].variables.stage.default).toBe('prod');
    expect(doc.servers[1].variables.restApiId.default).toBe('abc123xyz');
    // the local gateway serves at the root; a crafted path cannot write into the document
    expect((openApiDocument(toRequest({ ...viaStage('local'), requestContext: { stage: 'local', path: '/v1/openapi.json' } } as never).served) as any).servers[0].url).toBe('/');
    const crafted = openApiDocument({ basePath: '/"><script>', stage: 'a b', apiId: 'X!' }) as any;
    expect(crafted.servers[0].url).toBe('/');
    expect(JSON.stringify(crafted.servers)).not.toMatch(/<script>|a b|X!/);
  });
});

describe('the test client’s check of answers (test/helpers/answer-schemas.ts)', () => {
  it('passes a documented answer and refuses a wrong type, a missing field and an undocumented one', async () => {
    const { checkAnswer } = await import('../helpers/answer-schemas');
    const ok = { accountId: 'a', role: 'consumer', available: 1, held: 0, staked: 0, stakeFree: 0, stakeLocked: 0, unbonding: 0, symbol: 'CR' };
    expect(() => checkAnswer('GET', '/v1/balance', 200, ok)).not.toThrow();
    expect(() => checkAnswer('GET', '/v1/balance', 200, { ...ok, available: '1' })).toThrow(/schema refuses/);
    const { symbol: _s, ...missing } = ok;
    expect(() => checkAnswer('GET', '/v1/balance', 200, missing)).toThrow(/schema refuses/);
    expect(() => checkAnswer('GET', '/v1/balance?x=1', 200, { ...ok, secretHash: 'x' })).toThrow(/does not name: secretHash/);
    // literal segments win over parameters; errors and non-API paths are not checked
    expect(() => checkAnswer('GET', '/v1/checkers/assignments', 200, { items: [], nextCursor: null })).toThrow(/GET \/v1\/checkers\/assignments/);
    expect(() => checkAnswer('GET', '/v1/balance', 404, { nothing: true })).not.toThrow();
    expect(() => checkAnswer('GET', '/s/some-service/anything', 200, { any: 'thing' })).not.toThrow();
  });
});
