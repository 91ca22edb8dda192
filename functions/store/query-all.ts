// Every item of a query, page after page (the SDK's paginator): for reads whose result is bounded by the
// data model (one license's history, one proposal's votes, one account's secrets), not by the caller.
import { paginateQuery, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { decodeCursor, encodeCursor } from './cursor';

export async function queryAll(db: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const page of paginateQuery({ client: db }, input)) out.push(...(page.Items ?? []));
  return out;
}

/**
 * One page of an account's items from a table's `byAccount` index (accountId, createdAt), newest first,
 * with the opaque cursor for the next page: jobs and services list the same way.
 */
export async function pageByAccount(db: DynamoDBDocumentClient, table: string, accountId: string, limit: number, cursor?: string) {
  const r = await db.send(
    new QueryCommand({
      TableName: table,
      IndexName: 'byAccount',
      KeyConditionExpression: 'accountId = :a',
      ExpressionAttributeValues: { ':a': accountId },
      ScanIndexForward: false,
      Limit: limit,
      ExclusiveStartKey: decodeCursor(cursor, { accountId }, { id: 'string', accountId: 'string', createdAt: 'number' }),
    }),
  );
  return { items: r.Items ?? [], nextCursor: encodeCursor(r.LastEvaluatedKey) };
}
