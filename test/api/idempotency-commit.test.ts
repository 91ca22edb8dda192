// Idempotency-Key after a request that committed but could not record its answer (DynamoDB Local, the
// accounts handler in-process): the key must stay taken, so a retry with it never mints twice. The store's
// write of the answer is made to fail, once or for the whole first request.
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes as accountsRoutes } from '../../functions/http/accounts';
import { routeGroup } from '../../functions/http/kit/router';
import { withIdempotency } from '../../functions/http/kit/idempotency';
import { makeDocClient } from '../../functions/store/clients';
import { IdempotencyStore } from '../../functions/store/idempotency-store';
import { DomainError } from '../../functions/domain/errors';
import { buildDeps, newId, settingsFromEnv, type Deps } from '../../functions/usecases/deps';
import { startEngines, type Engines } from '../helpers/engines';

let engines: Engines;
let d: Deps;
/** how many of the next answer writes fail */
let failWrites = 0;

class FlakyIdempotency extends IdempotencyStore {
  override async complete(key: string, response: { statusCode: number; body: string }): Promise<void> {
    if (failWrites > 0) {
      failWrites--;
      throw Object.assign(new Error('Throughput exceeds the current capacity of your table'), { name: 'ProvisionedThroughputExceededException' });
    }
    return super.complete(key, response);
  }
}

beforeAll(async () => {
  engines = await startEngines();
  const db = makeDocClient(engines.ddb);
  d = { ...buildDeps({ db, sqs: engines.sqs, tables: engines.tableNames, settings: settingsFromEnv({}) }), idempotency: new FlakyIdempotency(db, engines.tableNames.idempotency) };
}, 120_000);

afterAll(async () => {
  await engines?.stop();
});

function mintRequest(accountId: string, key: string): Promise<APIGatewayProxyResult> {
  const event = {
    httpMethod: 'POST', resource: '/v1/accounts/{id}/credits', path: `/v1/accounts/${accountId}/credits`,
    headers: { 'content-type': 'application/json', 'idempotency-key': key }, multiValueHeaders: {},
    body: JSON.stringify({ amount: 1_000_000 }), isBase64Encoded: false, pathParameters: { id: accountId },
    queryStringParameters: null, multiValueQueryStringParameters: null, stageVariables: null,
    requestContext: { requestId: `req-${newId()}`, authorizer: { accountId: 'admin-1', role: 'admin', keyId: 'k' } },
  } as unknown as APIGatewayProxyEvent;
  return accountsHandler(event, {} as Context);
}

// the accounts function's code, its root the test's deps (with the flaky idempotency store)
const accountsHandler = routeGroup('accounts', accountsRoutes, () => d);

async function consumer(): Promise<string> {
  const id = newId();
  await d.accounts.create({ id, name: id, role: 'consumer', createdAt: Date.now(), available: 0, held: 0, staked: 0 });
  return id;
}

const mints = async (accountId: string) => (await d.ledger.statement(accountId, 100)).items.filter((e) => e.kind === 'mint').length;

describe('Idempotency-Key after a committed mint', () => {
  it('when the answer write fails once: the first request still answers, and a retry replays it', async () => {
    const id = await consumer();
    failWrites = 1;
    const first = await mintRequest(id, 'mint-once');
    expect(first.statusCode).toBe(201);
    const again = await mintRequest(id, 'mint-once');
    expect(again.statusCode).toBe(201);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    expect(await mints(id)).toBe(1);
    expect((await d.accounts.get(id))!.available).toBe(1_000_000);
  });

  it('when the answer cannot be written at all: the key stays taken and a retry never mints again', async () => {
    const id = await consumer();
    failWrites = 1_000;
    const first = await mintRequest(id, 'mint-unrecorded');
    failWrites = 0;
    // the mint committed: the caller gets its answer even though it could not be kept for replays
    expect(first.statusCode).toBe(201);
    const again = await mintRequest(id, 'mint-unrecorded');
    expect(again.statusCode).toBe(409);
    expect(JSON.parse(again.body).detail).toMatch(/may have taken effect/);
    expect(await mints(id)).toBe(1);
    expect((await d.accounts.get(id))!.available).toBe(1_000_000);
    // a new key is a new mint, as the answer says
    expect((await mintRequest(id, 'mint-next')).statusCode).toBe(201);
    expect(await mints(id)).toBe(2);
  }, 30_000);
});

describe('withIdempotency', () => {
  const request = (key: string) => ({ headers: { 'idempotency-key': key }, rawBody: '{}', params: {}, caller: { accountId: 'c1', role: 'consumer' as const, keyId: 'k' } }) as never;

  it('lets a request that was refused (a 4xx, nothing committed) be retried with the same key', async () => {
    let runs = 0;
    const refuse = async () => {
      runs++;
      throw new DomainError('conflict', 'not enough credits');
    };
    await expect(withIdempotency(d, request('refused'), 'POST /v1/jobs', refuse)).rejects.toThrow('not enough credits');
    const ok = await withIdempotency(d, request('refused'), 'POST /v1/jobs', async () => ({ statusCode: 202, body: '{"job":{}}' }));
    expect(ok.statusCode).toBe(202);
    expect(runs).toBe(1);
  });

  it('keeps the key after an unexpected error, which may have come after the commit', async () => {
    let runs = 0;
    const failAfterCommit = async (): Promise<APIGatewayProxyResult> => {
      runs++;
      throw new Error('socket hang up'); // e.g. the read after a committed submit
    };
    await expect(withIdempotency(d, request('unknown'), 'POST /v1/jobs', failAfterCommit)).rejects.toThrow('socket hang up');
    await expect(withIdempotency(d, request('unknown'), 'POST /v1/jobs', failAfterCommit)).rejects.toMatchObject({ code: 'conflict' });
    expect(runs).toBe(1);
  }, 30_000);
});
