// Requests in flight per service at this router, and their report: the autoscaler's signal
// (docs/services.md, Scaling). Each interval the router writes `load.<routerId> = {inflight, at}`, where
// inflight is the peak seen during the interval (a burst between two writes still counts), only when it
// changed, or when a non-zero figure would otherwise grow stale (the autoscaler ignores old entries).
export interface LoadWriter {
  (serviceId: string, load: { inflight: number; at: number }): Promise<void>;
}

export class LoadMeter {
  private readonly inflight = new Map<string, number>();
  private readonly peak = new Map<string, number>();
  private readonly written = new Map<string, { inflight: number; at: number }>();

  constructor(
    private readonly write: LoadWriter,
    /** a non-zero figure is written again after this long even when unchanged */
    private readonly refreshMs = 20_000,
  ) {}

  enter(serviceId: string): void {
    const n = (this.inflight.get(serviceId) ?? 0) + 1;
    this.inflight.set(serviceId, n);
    if (n > (this.peak.get(serviceId) ?? 0)) this.peak.set(serviceId, n);
  }

  leave(serviceId: string): void {
    const n = (this.inflight.get(serviceId) ?? 1) - 1;
    if (n > 0) this.inflight.set(serviceId, n);
    else this.inflight.delete(serviceId);
  }

  current(serviceId: string): number {
    return this.inflight.get(serviceId) ?? 0;
  }

  /** Writes what is due; a failed write is tried again at the next flush. Returns how many were written. */
  async flush(now: number): Promise<number> {
    const ids = new Set([...this.peak.keys(), ...this.written.keys()]);
    let n = 0;
    await Promise.all(
      [...ids].map(async (id) => {
        const value = Math.max(this.peak.get(id) ?? 0, this.current(id));
        const last = this.written.get(id);
        const due = !last || last.inflight !== value || (value > 0 && now - last.at >= this.refreshMs);
        // the next interval's peak starts from what is in flight now
        const cur = this.current(id);
        if (cur > 0) this.peak.set(id, cur);
        else this.peak.delete(id);
        if (!due) {
          // idle and reported idle: forget it (the maps stay as small as the set of busy services)
          if (value === 0 && last?.inflight === 0) this.written.delete(id);
          return;
        }
        try {
          await this.write(id, { inflight: value, at: now });
          this.written.set(id, { inflight: value, at: now });
          n++;
        } catch {
          // keep the peak so the next flush writes it
          this.peak.set(id, Math.max(this.peak.get(id) ?? 0, value));
        }
      }),
    );
    return n;
  }
}
