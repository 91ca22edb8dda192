// The account's limit counters (domain/account-limits.ts) as part of a job's transaction. DynamoDB allows
// one operation per item in a transaction, and a placement already updates the consumer's account item
// for the escrow hold (ledger-store.ts), so the counters and their conditions are merged into that update;
// without a ledger change they are an update of their own. Conditions cannot add, so each is written as
// `counter <= limit − delta` with the limit the writer read, and the write is also conditioned on the
// account's limitsVersion as read: an admin's change in between makes it try again, never slip past.
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { UsageDelta, UsageGuard } from '../domain/account-limits';

type Update = NonNullable<TransactWriteItem['Update']>;

/** The counters' part of an account update: clauses, condition, names, values. Undefined when nothing moves. */
export function usageUpdate(accountsTable: string, accountId: string, delta: UsageDelta, guard: UsageGuard | undefined, conditionQueue: boolean): Update | undefined {
  const adds: string[] = [];
  const sets: string[] = [];
  const conds: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, { N: string } | { S: string }> = {};
  const n = (v: number) => ({ N: String(v) });
  if (delta.queued) {
    names['#uq'] = 'queuedJobs';
    values[':uq'] = n(delta.queued);
    adds.push('#uq :uq');
    // only a submit is held to the queue limit; a job going back to the queue (lost node, retry) never is
    if (delta.queued > 0 && conditionQueue && guard) {
      values[':uqmax'] = n(guard.limits.maxQueuedJobs - delta.queued);
      conds.push('(attribute_not_exists(#uq) OR #uq <= :uqmax)');
    }
  }
  if (delta.gpus) {
    names['#ug'] = 'gpusInUse';
    values[':ug'] = n(delta.gpus);
    adds.push('#ug :ug');
    if (delta.gpus > 0) {
      if (!guard) throw new Error('a write that takes GPUs for an account must be conditioned on its limits (UsageGuard)');
      values[':ugmax'] = n(guard.limits.maxGpus - delta.gpus);
      conds.push('(attribute_not_exists(#ug) OR #ug <= :ugmax)');
    }
  }
  if (delta.spend > 0) {
    if (!guard) throw new Error('a write that holds escrow for an account must be conditioned on its limits (UsageGuard)');
    names['#ud'] = 'spendDay';
    names['#us'] = 'spentToday';
    values[':ud'] = { S: guard.today };
    values[':us'] = n(delta.spend);
    const max = guard.limits.maxSpendPerDay;
    if (guard.spendDay === guard.today) {
      // the day the writer read is today: add to it
      adds.push('#us :us');
      conds.push('#ud = :ud');
      if (max !== null) {
        values[':usmax'] = n(max - delta.spend);
        conds.push('#us <= :usmax');
      }
    } else {
      // a new day: start it at this hold (the caller checked the hold alone fits)
      sets.push('#ud = :ud', '#us = :us');
      conds.push('(attribute_not_exists(#ud) OR #ud <> :ud)');
    }
  }
  if (guard && conds.length) {
    names['#uv'] = 'limitsVersion';
    if (guard.version === 0) conds.push('attribute_not_exists(#uv)');
    else {
      values[':uv'] = n(guard.version);
      conds.push('#uv = :uv');
    }
  }
  if (!adds.length && !sets.length) return undefined;
  return {
    TableName: accountsTable,
    Key: { id: { S: accountId } },
    UpdateExpression: [adds.length ? `ADD ${adds.join(', ')}` : '', sets.length ? `SET ${sets.join(', ')}` : ''].filter(Boolean).join(' '),
    ...(conds.length ? { ConditionExpression: conds.join(' AND '), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } : {}),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** The ledger's update of the same account item with the counters' clauses joined in (one operation per item). */
export function mergeUpdates(ledger: Update, usage: Update): Update {
  const ledgerAdds = (ledger.UpdateExpression ?? '').replace(/^ADD\s+/, '');
  if (!/^ADD\s/.test(ledger.UpdateExpression ?? '') || /\b(SET|REMOVE|DELETE)\b/.test(ledgerAdds)) throw new Error('unexpected ledger update expression');
  const usageAdds = /ADD (.*?)(?: SET |$)/.exec(usage.UpdateExpression ?? '')?.[1];
  const usageSets = / ?SET (.*)$/.exec(usage.UpdateExpression ?? '')?.[1];
  const conds = [ledger.ConditionExpression, usage.ConditionExpression].filter(Boolean).map((c) => `(${c})`);
  return {
    ...ledger,
    UpdateExpression: `ADD ${[ledgerAdds, usageAdds].filter(Boolean).join(', ')}${usageSets ? ` SET ${usageSets}` : ''}`,
    ...(conds.length ? { ConditionExpression: conds.join(' AND ') } : {}),
    ...(usage.ConditionExpression ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } : {}),
    ExpressionAttributeNames: { ...ledger.ExpressionAttributeNames, ...usage.ExpressionAttributeNames },
    ExpressionAttributeValues: { ...ledger.ExpressionAttributeValues, ...usage.ExpressionAttributeValues },
  };
}

/** A job write refused by its account's limits (the job waits, or the submit is refused). */
export class AccountLimitError extends Error {
  override name = 'AccountLimitError';
  constructor(
    readonly limit: 'gpus' | 'spend' | 'queue',
    readonly accountId: string,
  ) {
    super(`account ${accountId} is at its ${limit} limit`);
  }
}

/** The account's limits or spend day moved since the writer read them: read the account again and retry. */
export class StaleAccountError extends Error {
  override name = 'StaleAccountError';
}
