// Shared by the state-machine tests: the code of the DomainError a transition throws.
import { expect } from 'vitest';
import { DomainError } from '../../functions/domain/errors';

export function domainErrorCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return (e as DomainError).code;
  }
  throw new Error('expected a DomainError');
}
