// Replicated verification's records, in the `scores` table under the partition `verify#<group>`:
//   SK = replica index + 1   the result the agent reported for that replica's latest attempt (overwritten
//                            by a later attempt; the verifier only counts the one matching the last attempt)
//   SK = 0                   the verdict: written once per round by whichever caller first sees every
//                            replica of the round ended — so siblings finishing at the same moment, or a
//                            finish racing a consumer's GET, decide exactly once. Round 0 puts it under
//                            attribute_not_exists; a round-0 `tiebreak` is replaced once, by round 1,
//                            under `status = tiebreak AND round = 0`
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ReplicaResult, ReplicaVerdict, VerificationStatus } from '../domain/checker/replicas';
import { isConditionFailure } from './conditions';

export interface StoredVerdict extends Omit<ReplicaVerdict, 'status'> {
  status: Exclude<VerificationStatus, 'pending'>;
  decidedAt: number;
  /** 0: the replicas asked for; 1: after the tie-breaker (absent on verdicts written before rounds: 0) */
  round?: 0 | 1;
  /** the tie-breaker's job id, once round 0 called for one */
  tiebreaker?: string;
}

const pk = (group: string) => `verify#${group}`;

export class VerificationStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Records (or replaces) the result of replica `index`; idempotent, so a retried finish writes the same. */
  async putResult(group: string, index: number, r: ReplicaResult): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: { ...r, node: r.nodeId, nodeId: pk(group), at: index + 1, kind: 'result' } }));
  }

  /** Results by replica index, and the verdict if one was written. */
  async read(group: string): Promise<{ results: Map<number, ReplicaResult>; verdict?: StoredVerdict }> {
    const results = new Map<number, ReplicaResult>();
    let verdict: StoredVerdict | undefined;
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(
        new QueryCommand({ TableName: this.table, KeyConditionExpression: 'nodeId = :p', ExpressionAttributeValues: { ':p': pk(group) }, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      for (const { nodeId: _pk, at, kind, node, ...rest } of r.Items ?? []) {
        if (kind === 'verdict') verdict = rest as StoredVerdict;
        // the table's key is `nodeId`: a result keeps its node under `node`
        else results.set((at as number) - 1, { ...rest, nodeId: node } as ReplicaResult);
      }
      start = r.LastEvaluatedKey;
    } while (start);
    return { results, verdict };
  }

  /**
   * Writes the verdict of its round unless that round is decided: round 0 when none exists, round 1 over
   * round 0's `tiebreak` only. True when this call wrote it (and so owns its consequences).
   */
  async decide(group: string, v: StoredVerdict): Promise<boolean> {
    const cond =
      (v.round ?? 0) === 0
        ? { ConditionExpression: 'attribute_not_exists(nodeId)' }
        : {
            ConditionExpression: '#s = :tb AND #r = :r0',
            ExpressionAttributeNames: { '#s': 'status', '#r': 'round' },
            ExpressionAttributeValues: { ':tb': 'tiebreak', ':r0': 0 },
          };
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: { nodeId: pk(group), at: 0, kind: 'verdict', ...v }, ...cond }));
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async verdict(group: string): Promise<StoredVerdict | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { nodeId: pk(group), at: 0 }, ConsistentRead: true }));
    if (!r.Item) return undefined;
    const { nodeId: _pk, at: _at, kind: _k, ...rest } = r.Item;
    return rest as StoredVerdict;
  }
}
