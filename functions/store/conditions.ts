// DynamoDB's refusal of a conditional write, told apart from every other failure: for the many writes
// whose refused condition is an outcome (already there, moved meanwhile), not an error.
export const isConditionFailure = (e: unknown): boolean => (e as Error).name === 'ConditionalCheckFailedException';

/** For `.catch`: a refused condition means the item is already as wanted; anything else is thrown on. */
export function ignoreConditionFailure(e: unknown): void {
  if (!isConditionFailure(e)) throw e;
}
