// One DynamoDB Local for the whole test run (vitest globalSetup): a JVM takes seconds of both cores to
// start and warm up, and ninety test files each started their own. The workers inherit its endpoint in
// GPUPOOL_TEST_DDB_ENDPOINT; every local stack and every startEngines() call makes its own tables in it
// under a unique prefix, so no test sees another's items. A stack with a data dir (restart tests) still
// starts its own, persistent one.
import { randomUUID } from 'node:crypto';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local';

export const SHARED_DDB_VAR = 'GPUPOOL_TEST_DDB_ENDPOINT';

let ddb: DynamoDbLocal | undefined;

export async function setup(): Promise<void> {
  if (process.env[SHARED_DDB_VAR]) return;
  ddb = await startDynamoDbLocal({ port: 0 });
  process.env[SHARED_DDB_VAR] = ddb.endpoint;
}

export async function teardown(): Promise<void> {
  await ddb?.stop();
}

/** The shared DynamoDB Local with a fresh table prefix, for startLocalStack's `dynamodb` option; none outside vitest. */
export function sharedDynamoDb(): { endpoint: string; tablePrefix: string } | undefined {
  const endpoint = process.env[SHARED_DDB_VAR];
  return endpoint ? { endpoint, tablePrefix: `s${randomUUID().slice(0, 8)}-` } : undefined;
}
