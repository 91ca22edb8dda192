// Which physical GPUs each attempt holds. The control plane only counts GPUs per node; the agent picks the
// devices, so two attempts running side by side never share one.
import type { GpuDevice } from '../../functions/domain/model';

export class GpuAllocator {
  private readonly owner = new Map<number, string>(); // device index → attemptId

  constructor(private readonly devices: readonly GpuDevice[]) {}

  get total(): number {
    return this.devices.length;
  }

  get free(): number {
    return this.devices.length - this.owner.size;
  }

  /** The `count` lowest free devices, or undefined when fewer are free (nothing is taken then). */
  allocate(attemptId: string, count: number): GpuDevice[] | undefined {
    const free = this.devices.filter((d) => !this.owner.has(d.index));
    if (free.length < count) return undefined;
    const picked = free.slice(0, count);
    for (const d of picked) this.owner.set(d.index, attemptId);
    return picked;
  }

  release(attemptId: string): void {
    for (const [index, owner] of this.owner) if (owner === attemptId) this.owner.delete(index);
  }
}
