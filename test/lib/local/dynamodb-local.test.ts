// DynamoDB Local as a child JVM: free port, loopback only, clean stop, data kept with a dbPath, and
// clear errors when Java is missing or the port is taken.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { JAVA_MISSING, startDynamoDbLocal, type DynamoDbLocal } from '../../../lib/local/dynamodb-local';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../helpers/engines';

const started: DynamoDbLocal[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(started.map((d) => d.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const client = (endpoint: string) => new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

/** Resolves true when something accepts a TCP connection there. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('startDynamoDbLocal', () => {
  it('starts on a free port, answers, listens on loopback only and stops', async () => {
    const t0 = performance.now();
    const ddb = await startDynamoDbLocal();
    started.push(ddb);
    const startMs = performance.now() - t0;
    expect(ddb.endpoint).toBe(`http://127.0.0.1:${ddb.port}`);
    expect(ddb.loopbackOnly).toBe(true);
    const c = client(ddb.endpoint);
    expect((await c.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    c.destroy();

    // another interface of this machine must not reach it
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external) expect(await accepts(external.address, ddb.port)).toBe(false);

    await ddb.stop();
    expect(await accepts('127.0.0.1', ddb.port)).toBe(false);
    console.info(`DynamoDB Local ready in ${Math.round(startMs)} ms`);
  });

  it('keeps tables in dbPath across restarts, whatever access key the client uses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpupool-ddb-'));
    dirs.push(dir);
    const first = await startDynamoDbLocal({ dbPath: dir });
    started.push(first);
    const c1 = client(first.endpoint);
    await c1.send(
      new CreateTableCommand({
        TableName: 'kept',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    c1.destroy();
    await first.stop();

    const second = await startDynamoDbLocal({ dbPath: dir });
    started.push(second);
    const c2 = new DynamoDBClient({ endpoint: second.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'other', secretAccessKey: 'x' } });
    expect((await c2.send(new ListTablesCommand({}))).TableNames).toEqual(['kept']);
    c2.destroy();
    await second.stop();
  });

  it('says how to install Java when there is none', async () => {
    await expect(startDynamoDbLocal({ env: { PATH: '/nonexistent' } })).rejects.toThrow(JAVA_MISSING);
    expect(JAVA_MISSING).toMatch(/Java 17\+.*apt-get install openjdk-17-jre-headless/);
  });

  it('fails with the JVM output when a given port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await expect(startDynamoDbLocal({ port })).rejects.toThrow(new RegExp(`did not start on port ${port}[\\s\\S]*bind`, 'i'));
    } finally {
      blocker.close();
    }
  });
});
