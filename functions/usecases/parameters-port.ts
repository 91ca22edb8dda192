// The one port the parameters in force are read through: the values enacted proposals set, kept for a
// short while per process (a settlement reads them; one read per few seconds, not one per job).
import type { ParameterChanges } from '../domain/governance/parameters';
import type { GovernanceStore } from '../store/governance-store';

export interface ParametersPort {
  /** the changes enacted so far (empty: none) */
  enacted(): Promise<ParameterChanges>;
  /** forget the kept copy (after an enactment in this process) */
  invalidate(): void;
}

export class CachedParameters implements ParametersPort {
  private kept?: { at: number; values: Promise<ParameterChanges> };
  constructor(
    private readonly store: Pick<GovernanceStore, 'parameters'>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  enacted(): Promise<ParameterChanges> {
    const now = this.now();
    if (!this.kept || now - this.kept.at >= this.ttlMs) {
      const values = this.store.parameters().then((p) => p.values);
      // a failed read is not kept: the next caller reads again
      values.catch(() => {
        if (this.kept?.values === values) this.kept = undefined;
      });
      this.kept = { at: now, values };
    }
    return this.kept.values;
  }

  invalidate(): void {
    this.kept = undefined;
  }
}
