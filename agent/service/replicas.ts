// The service replicas this node runs now: where each listens on loopback (its host port), what its
// readiness probe last said, and which one takes the next routed request of its service (round-robin).
// The attempt lifecycle adds a replica when its workload starts and removes it when the workload ends;
// the readiness prober, the heartbeat and the ingress read it.

export interface ServiceReplica {
  attemptId: string;
  serviceId: string;
  /** loopback port the ingress and the readiness probe connect to */
  hostPort: number;
  readinessPath: string;
  ready: boolean;
}

export class ServiceReplicas {
  private readonly byAttempt = new Map<string, ServiceReplica>();
  /** per service: how many requests it was given, for round-robin */
  private readonly turns = new Map<string, number>();
  private listener?: () => void;

  /** called when a replica's readiness flips (the heartbeat goes at once then) */
  onChange(listener: () => void): void {
    this.listener = listener;
  }

  add(r: Omit<ServiceReplica, 'ready'>): void {
    this.byAttempt.set(r.attemptId, { ...r, ready: false });
  }

  remove(attemptId: string): void {
    const r = this.byAttempt.get(attemptId);
    if (!r) return;
    this.byAttempt.delete(attemptId);
    if (![...this.byAttempt.values()].some((o) => o.serviceId === r.serviceId)) this.turns.delete(r.serviceId);
  }

  setReady(attemptId: string, ready: boolean): void {
    const r = this.byAttempt.get(attemptId);
    if (!r || r.ready === ready) return;
    r.ready = ready;
    this.listener?.();
  }

  all(): ServiceReplica[] {
    return [...this.byAttempt.values()];
  }

  get size(): number {
    return this.byAttempt.size;
  }

  /** what every heartbeat carries: each replica and whether its probe passes now */
  report(): { attemptId: string; ready: boolean }[] {
    return this.all().map((r) => ({ attemptId: r.attemptId, ready: r.ready }));
  }

  /**
   * The replica of `serviceId` that takes the next request: round-robin over the ready ones, else over all
   * of them (the routing tier sent the request because it saw this one ready a moment ago; a replica that
   * is starting or failing its probe answers for itself). Undefined when none runs here.
   */
  pick(serviceId: string): ServiceReplica | undefined {
    const mine = this.all().filter((r) => r.serviceId === serviceId);
    if (mine.length === 0) return undefined;
    const ready = mine.filter((r) => r.ready);
    const pool = ready.length > 0 ? ready : mine;
    const turn = this.turns.get(serviceId) ?? 0;
    this.turns.set(serviceId, turn + 1);
    return pool[turn % pool.length];
  }
}
