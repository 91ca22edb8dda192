// Every item of a query, page after page (the SDK's paginator): for reads whose result is bounded by the
// data model (one license's history, one proposal's votes, one account's secrets), not by the caller.
import { paginateQuery, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';

export async function queryAll(db: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const page of paginateQuery({ client: db }, input)) out.push(...(page.Items ?? []));
  return out;
}
