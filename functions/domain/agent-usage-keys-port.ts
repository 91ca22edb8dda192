// A usage key of its own for each node (API Gateway on AWS): functions/usecases/agent-usage-keys.ts.
export interface AgentUsageKeysPort {
  /** Makes the node's usage key and puts it in the agent usage plan; a repeat finds what an earlier try made. */
  ensure(nodeId: string): Promise<void>;
  /** Removes the node's usage key; nothing to remove is no error. */
  remove(nodeId: string): Promise<void>;
}
