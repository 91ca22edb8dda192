// The unit of work on DynamoDB Local: a refused transaction names its refused items by the kinds they were
// added with, wherever they stand in it, and the stores' verdicts (JobChangedError, CapacityRaceError,
// InsufficientFundsError, a node lock's conflict) follow from the kinds, not from positions.
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError, JobChangedError } from '../../functions/domain/errors';
import { DEFAULT_DEADLINES } from '../../functions/domain/job/deadlines';
import type { Transition } from '../../functions/domain/job/transitions';
import { mintPosting, moveWithin } from '../../functions/domain/ledger/postings';
import type { Job, Node } from '../../functions/domain/model';
import { AccountsStore } from '../../functions/store/accounts-store';
import { CapacityRaceError, JobsStore } from '../../functions/store/jobs-store';
import { InsufficientFundsError, LedgerStore, StakeLockMovedError } from '../../functions/store/ledger-store';
import { NodesStore } from '../../functions/store/nodes-store';
import { MAX_TRANSACT_ITEMS, TransactionRefusedError, UnitOfWork } from '../../functions/store/unit-of-work';
import { startEngines, type Engines } from '../helpers/engines';

let engines: Engines;
let db: DynamoDBDocumentClient;
/** a table keyed by `id` (the jobs table; these tests' ids never look like jobs) */
let table: string;
let nodes: NodesStore;
let ledger: LedgerStore;
let accounts: AccountsStore;
let jobs: JobsStore;

beforeAll(async () => {
  engines = await startEngines();
  db = DynamoDBDocumentClient.from(engines.ddb, { marshallOptions: { removeUndefinedValues: true } });
  table = engines.tableNames.jobs;
  nodes = new NodesStore(db, engines.tableNames.nodes);
  ledger = new LedgerStore(db, engines.tableNames.ledger, engines.tableNames.accounts);
  accounts = new AccountsStore(db, engines.tableNames.accounts);
  jobs = new JobsStore(db, table, nodes, DEFAULT_DEADLINES, ledger, engines.tableNames.accounts);
}, 60_000);
afterAll(async () => engines?.stop());

type Kind = 'alpha' | 'beta' | 'gamma';
type Update = NonNullable<TransactWriteItem['Update']>;
const get = async (id: string) => (await db.send(new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true }))).Item;
/** a put that passes (a new id) or is refused (an id already there) */
const put = (id: string): TransactWriteItem => ({ Put: { TableName: table, Item: { id: { S: id }, v: { N: '1' } }, ConditionExpression: 'attribute_not_exists(id)' } });
const refusedOf = async (u: UnitOfWork<Kind>) => {
  const e = await u.commit(db).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(TransactionRefusedError);
  return e as TransactionRefusedError<Kind>;
};

describe('unit of work', () => {
  it.each([
    ['second', ['alpha', 'beta', 'gamma']],
    ['third', ['alpha', 'gamma', 'beta']],
    ['first', ['beta', 'alpha', 'gamma']],
  ] as const)('names the refused item by its kind when it stands %s, and writes nothing', async (where, order) => {
    const taken = `uow-taken-${where}`;
    await db.send(new PutCommand({ TableName: table, Item: { id: taken } }));
    const u = new UnitOfWork<Kind>();
    // only the 'beta' item's condition fails (its id exists); the others would pass
    for (const kind of order) u.add(kind, kind === 'beta' ? taken : `uow-${where}-${kind}`, put(kind === 'beta' ? taken : `uow-${where}-${kind}`));
    const e = await refusedOf(u);
    expect(e.refused).toEqual([{ kind: 'beta', subject: taken }]);
    expect(e.first.kind).toBe('beta');
    expect(e.of('beta')?.subject).toBe(taken);
    expect(e.of('alpha')).toBeUndefined();
    // all or nothing: the items that passed were not written
    expect(await get(`uow-${where}-alpha`)).toBeUndefined();
    expect(await get(`uow-${where}-gamma`)).toBeUndefined();
  });

  it('gives the same verdict by kind whichever of two refused items comes first', async () => {
    await db.send(new PutCommand({ TableName: table, Item: { id: 'uow-two-a' } }));
    await db.send(new PutCommand({ TableName: table, Item: { id: 'uow-two-b' } }));
    for (const [first, second] of [
      ['alpha', 'gamma'],
      ['gamma', 'alpha'],
    ] as const) {
      const u = new UnitOfWork<Kind>().add('beta', 'uow-two-ok', put('uow-two-ok'));
      u.add(first, first === 'alpha' ? 'uow-two-a' : 'uow-two-b', put(first === 'alpha' ? 'uow-two-a' : 'uow-two-b'));
      u.add(second, second === 'alpha' ? 'uow-two-a' : 'uow-two-b', put(second === 'alpha' ? 'uow-two-a' : 'uow-two-b'));
      const e = await refusedOf(u);
      // every failed condition is reported, in the order added; a caller asking kind by kind (its own
      // precedence) gets the same answer in either order
      expect(e.refused.map((r) => r.kind)).toEqual([first, second]);
      expect(e.of('alpha')).toEqual({ kind: 'alpha', subject: 'uow-two-a' });
      expect(e.of('gamma')).toEqual({ kind: 'gamma', subject: 'uow-two-b' });
      expect(e.of('beta')).toBeUndefined();
    }
    expect(await get('uow-two-ok')).toBeUndefined();
  });

  it('returns the refused item as it was when the write asks for it (ALL_OLD), in a transaction and as one write', async () => {
    await db.send(new PutCommand({ TableName: table, Item: { id: 'uow-old', count: 7 } }));
    const update = (): TransactWriteItem => ({
      Update: {
        TableName: table,
        Key: { id: { S: 'uow-old' } },
        UpdateExpression: 'ADD #c :one',
        ConditionExpression: '#c < :max',
        ExpressionAttributeNames: { '#c': 'count' },
        ExpressionAttributeValues: { ':one': { N: '1' }, ':max': { N: '5' } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
    const inTransaction = await refusedOf(new UnitOfWork<Kind>().add('alpha', 'uow-old-new', put('uow-old-new')).add('gamma', 'uow-old', update()));
    expect(inTransaction.of('gamma')).toEqual({ kind: 'gamma', subject: 'uow-old', old: { id: 'uow-old', count: 7 } });
    const alone = await new UnitOfWork<Kind>()
      .add('gamma', 'uow-old', update())
      .commit(db, { oneItemAsWrite: true })
      .catch((x: unknown) => x);
    expect(alone).toBeInstanceOf(TransactionRefusedError);
    expect((alone as TransactionRefusedError<Kind>).refused).toEqual([{ kind: 'gamma', subject: 'uow-old', old: { id: 'uow-old', count: 7 } }]);
    expect((await get('uow-old'))?.count).toBe(7);
  });

  it('merges a second change of one item into the first (one operation per item) and tags it with the later kind', async () => {
    const add = (n: number, max?: number): Update => ({
      TableName: table,
      Key: { id: { S: 'uow-merge' } },
      UpdateExpression: `ADD #a${n} :a${n}`,
      ...(max !== undefined ? { ConditionExpression: `attribute_not_exists(#a${n}) OR #a${n} < :m${n}` } : {}),
      ExpressionAttributeNames: { [`#a${n}`]: `a${n}` },
      ExpressionAttributeValues: { [`:a${n}`]: { N: '1' }, ...(max !== undefined ? { [`:m${n}`]: { N: String(max) } } : {}) },
    });
    // what account-usage.ts's mergeUpdates does for the ledger's and the limits' updates of one account
    const merge = (x: Update, y: Update): Update => ({
      ...x,
      UpdateExpression: `${x.UpdateExpression}, ${y.UpdateExpression!.replace(/^ADD /, '')}`,
      ...(y.ConditionExpression ? { ConditionExpression: y.ConditionExpression } : {}),
      ExpressionAttributeNames: { ...x.ExpressionAttributeNames, ...y.ExpressionAttributeNames },
      ExpressionAttributeValues: { ...x.ExpressionAttributeValues, ...y.ExpressionAttributeValues },
    });
    const u = () => new UnitOfWork<Kind>().add('alpha', 'uow-merge', { Update: add(1) }).addMerged('beta', 'uow-merge', add(2, 1), merge).add('gamma', 'uow-merge-other', put('uow-merge-other'));
    expect(u().size).toBe(2);
    await u().commit(db);
    expect(await get('uow-merge')).toEqual({ id: 'uow-merge', a1: 1, a2: 1 });
    // the merged item's refusal carries the later kind: the second change's condition now fails
    const again = new UnitOfWork<Kind>().add('alpha', 'uow-merge', { Update: add(1) }).addMerged('beta', 'uow-merge', add(2, 1), merge);
    expect((await refusedOf(again)).refused).toEqual([{ kind: 'beta', subject: 'uow-merge' }]);
    // without an update of the same item, addMerged adds one
    expect(new UnitOfWork<Kind>().addMerged('beta', 'uow-merge', add(2), merge).size).toBe(1);
  });

  it('writes values given as plain values (lib-dynamodb form) like AttributeValues', async () => {
    await new UnitOfWork<Kind>()
      .addNative('alpha', 'uow-native', { Put: { TableName: table, Item: { id: 'uow-native', n: 3, s: 'x', nested: { a: [1, 'b'] }, gone: undefined }, ConditionExpression: 'attribute_not_exists(id)' } })
      .addNative('beta', 'uow-native-2', { Update: { TableName: table, Key: { id: 'uow-native-2' }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': 4 } } })
      .commit(db);
    expect(await get('uow-native')).toEqual({ id: 'uow-native', n: 3, s: 'x', nested: { a: [1, 'b'] } });
    expect(await get('uow-native-2')).toEqual({ id: 'uow-native-2', n: 4 });
  });

  it('refuses more items than one transaction holds before sending anything', async () => {
    const u = new UnitOfWork<Kind>();
    for (let i = 0; i <= MAX_TRANSACT_ITEMS; i++) u.add('alpha', `uow-big-${i}`, put(`uow-big-${i}`));
    await expect(u.commit(db)).rejects.toThrow(`at most ${MAX_TRANSACT_ITEMS} items`);
    expect(await get('uow-big-0')).toBeUndefined();
  });

  it('passes other failures through as DynamoDB gave them', async () => {
    const bad = new UnitOfWork<Kind>().add('alpha', 'x', { Put: { TableName: `${table}-missing`, Item: { id: { S: 'x' } } } }).add('beta', 'y', put('uow-missing-y'));
    const e = await bad.commit(db).catch((x: unknown) => x);
    expect(e).not.toBeInstanceOf(TransactionRefusedError);
    expect((e as Error).name).toBe('ResourceNotFoundException');
  });
});

// the stores' verdicts, decided by kind
const node = (id: string, freeGpus: number): Node =>
  ({ id, providerId: 'uow-p', name: id, status: 'ONLINE', region: 'r', gpus: [], gpuModel: 'T4', vramGb: 16, totalGpus: 4, freeGpus, pricePerGpuHour: 1, labels: {}, reputation: 1, createdAt: 1 }) as Node;
const job = (id: string): Job => ({ id, accountId: 'uow-acct', status: 'QUEUED', version: 0, priority: 0, createdAt: 1, queuedAt: 1, queueTtlSeconds: 3600, attempts: [] }) as unknown as Job;
/** a transition claiming GPUs on each node, in the order given */
const claiming = (j: Job, nodeIds: string[]): Transition => ({ job: { ...j, version: j.version + 1 }, effects: nodeIds.map((nodeId) => ({ kind: 'claimGpus', nodeId, gpus: 1 })) }) as unknown as Transition;

describe('a transition refused: the verdict follows the refused item kind', () => {
  it.each([
    ['second', ['A', 'B']],
    ['first', ['B', 'A']],
  ])('a node whose capacity moved (%s of two claims) is a CapacityRaceError naming that node; nothing is written', async (where, order) => {
    const id = (n: string) => `uow-n1${n}-${where}`;
    await nodes.create(node(id('A'), 4));
    await nodes.create(node(id('B'), 4));
    const j = job(`uow-job-cap-${where}`);
    await jobs.create(j, { marker: false });
    // the placer read 3 free GPUs on B; it has 4
    const read = { [id('A')]: node(id('A'), 4), [id('B')]: node(id('B'), 3) };
    const e = await jobs.apply(j, claiming(j, order.map(id)), read).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CapacityRaceError);
    expect((e as CapacityRaceError).nodeId).toBe(id('B'));
    expect((await jobs.get(j.id))?.version).toBe(0);
    expect((await nodes.get(id('A')))?.freeGpus).toBe(4);
  });

  it('a job that moved is a JobChangedError even when a node moved too, whatever the order', async () => {
    await nodes.create(node('uow-n2', 4));
    const j = job('uow-job-moved');
    await jobs.create(j, { marker: false });
    await jobs.apply(j, { job: { ...j, version: 1 }, effects: [] } as unknown as Transition, {});
    const e = await jobs.apply(j, claiming(j, ['uow-n2']), { 'uow-n2': node('uow-n2', 3) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(JobChangedError);
    // the job alone (one item, sent as one conditional write): the same verdict
    await expect(jobs.apply(j, { job: { ...j, version: 1 }, effects: [] } as unknown as Transition, {})).rejects.toBeInstanceOf(JobChangedError);
  });

  it("a ledger posting: a node lock that moved is a StakeLockMovedError (a conflict), an account short of funds is InsufficientFundsError naming it", async () => {
    await accounts.create({ id: 'uow-rich', name: 'r', role: 'provider', createdAt: 1, available: 0, held: 0, staked: 0 });
    await accounts.create({ id: 'uow-poor', name: 'p', role: 'provider', createdAt: 1, available: 0, held: 0, staked: 0 });
    await ledger.post([mintPosting('mint/uow-rich', 'uow-rich', 1000, 1)]);
    await nodes.create(node('uow-n3', 4));
    const n3 = (await nodes.get('uow-n3'))!;
    const lockRich = moveWithin('uow/lock/rich', 'stake', 'uow-rich', 500, 2);
    const lockPoor = moveWithin('uow/lock/poor', 'stake', 'uow-poor', 500, 2);
    // the poor account is short, whichever posting comes first
    for (const postings of [
      [lockRich, lockPoor],
      [lockPoor, lockRich],
    ]) {
      const e = await ledger.post(postings).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InsufficientFundsError);
      expect((e as InsufficientFundsError).account).toBe('uow-poor');
    }
    // a node lock read at an old version: the conflict wins over the funds
    const stale = nodes.stakeLockItem({ ...n3, version: n3.version + 1 }, 500);
    const c = await ledger.post([lockPoor], [stale]).catch((x: unknown) => x);
    expect(c).toBeInstanceOf(DomainError);
    expect(c).not.toBeInstanceOf(InsufficientFundsError);
    // typed, naming the node: the stake loops retry on this class only, never on any 409
    expect(c).toBeInstanceOf(StakeLockMovedError);
    expect((c as StakeLockMovedError).nodeId).toBe('uow-n3');
    expect((c as Error).message).toBe('changed concurrently; try again');
    // posted once: a second post of the same posting is `false`, not a second movement
    expect(await ledger.post([lockRich], [nodes.stakeLockItem(n3, 500)])).toBe(true);
    expect(await ledger.post([lockRich])).toBe(false);
    expect((await accounts.get('uow-rich'))!.available).toBe(500);
  });
});
