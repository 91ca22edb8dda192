// The local stack's EC2 for burst's test mode (docs/burst.md): each "instance" is a real gpupool-agent
// process started from the settings in the user data it was launched with (token, node name, region,
// price, labels) and simulated GPUs of the instance type's shape. ClientTokens are honoured, termination
// stops the agent, and interrupt() plays a spot reclaim: the agent drains, then the instance is gone.
import path from 'node:path';
import type { Ec2State } from '../../functions/domain/burst/lifecycle';
import type { InstanceTypeSpec } from '../../functions/domain/burst/settings';
import { parseUserData } from '../../functions/domain/burst/user-data';
import type { Ec2Instance, Ec2Port, LaunchRequest } from '../../functions/store/ec2-fleet';
import { startAgent, type AgentProcess } from './agent-process';

interface FakeInstance {
  instanceId: string;
  launchId: string;
  stage: string;
  state: Ec2State;
  request: LaunchRequest;
  agent?: AgentProcess;
}

export class FakeEc2 implements Ec2Port {
  readonly instances: FakeInstance[] = [];
  private readonly byToken = new Map<string, FakeInstance>();

  constructor(
    private readonly o: { catalogue: readonly InstanceTypeSpec[]; stateDir: string; onLine?: (line: string) => void; agentEnv?: Record<string, string> },
  ) {}

  async imageId(): Promise<string> {
    return 'ami-0000000000000fake';
  }

  async run(req: LaunchRequest): Promise<{ instanceId: string }> {
    const same = this.byToken.get(req.clientToken);
    if (same) return { instanceId: same.instanceId };
    const spec = this.o.catalogue.find((t) => t.instanceType === req.instanceType);
    if (!spec) throw Object.assign(new Error(`unknown instance type ${req.instanceType}`), { name: 'InvalidParameterValue' });
    const instanceId = `i-fake${String(this.instances.length + 1).padStart(12, '0')}`;
    const ud = parseUserData(req.userData);
    const inst: FakeInstance = { instanceId, launchId: req.launchId, stage: req.stage, state: 'running', request: req };
    this.instances.push(inst);
    this.byToken.set(req.clientToken, inst);
    inst.agent = startAgent({
      name: ud.GPUPOOL_NODE_NAME,
      apiUrl: ud.GPUPOOL_API_URL,
      providerKey: ud.GPUPOOL_PROVIDER_KEY,
      stateDir: path.join(this.o.stateDir, instanceId),
      gpus: `${spec.gpus}x${spec.gpuModel}-${spec.vramGb}`,
      region: ud.GPUPOOL_REGION,
      price: Number(ud.GPUPOOL_PRICE_PER_GPU_HOUR),
      // many "instances" share one machine: the probe server takes a free port instead of the fixed one
      env: { GPUPOOL_LABELS: ud.GPUPOOL_LABELS, GPUPOOL_PROBE_PORT: '0', ...this.o.agentEnv },
      onLine: this.o.onLine,
    });
    return { instanceId };
  }

  async terminate(instanceIds: string[]): Promise<void> {
    await Promise.all(instanceIds.map((id) => this.stopInstance(id, 'SIGKILL')));
  }

  /** A spot interruption: the agent is told (SIGTERM drains it, as the notice does), then the instance ends. */
  async interrupt(instanceId: string): Promise<void> {
    await this.stopInstance(instanceId, 'SIGTERM');
  }

  private async stopInstance(id: string, signal: NodeJS.Signals): Promise<void> {
    const inst = this.instances.find((i) => i.instanceId === id);
    if (!inst || inst.state === 'terminated') return;
    inst.state = 'shutting-down';
    await inst.agent?.stop(signal);
    inst.state = 'terminated';
  }

  async list(stage: string): Promise<Ec2Instance[]> {
    return this.instances.filter((i) => i.stage === stage).map((i) => ({ instanceId: i.instanceId, launchId: i.launchId, state: i.state }));
  }

  /** Stops every agent still running (the local stack's stop). */
  async stopAll(): Promise<void> {
    await Promise.all(this.instances.map((i) => this.stopInstance(i.instanceId, 'SIGKILL')));
  }
}
