// A gang's rank gets its rank, world size, peers and rendezvous as environment variables, in both runtimes.
import { describe, expect, it } from 'vitest';
import { dockerRunArgs } from '../../agent/runtime/docker';
import { gangEnv } from '../../agent/runtime/gang-env';

const gang = { rank: 1, worldSize: 2, peers: ['10.0.0.1:29777', '10.0.0.2:29777'], masterAddr: '10.0.0.1', masterPort: 29777 };
const attempt = (g?: typeof gang) => ({
  jobId: 'j1',
  attemptId: 'a1',
  devices: [],
  spec: { image: 'img', command: ['torchrun', 'train.py'], env: {}, gpus: 0, maxDurationSeconds: 60, ...(g ? { gang: g } : {}) },
});

describe('gang environment', () => {
  it('names rank, world size, peers and master for gpupool and for torchrun', () => {
    expect(gangEnv({ gang })).toEqual({
      GPUPOOL_RANK: '1',
      GPUPOOL_WORLD_SIZE: '2',
      GPUPOOL_PEERS: '10.0.0.1:29777,10.0.0.2:29777',
      GPUPOOL_MASTER_ADDR: '10.0.0.1',
      GPUPOOL_MASTER_PORT: '29777',
      PET_NNODES: '2',
      PET_NODE_RANK: '1',
      PET_MASTER_ADDR: '10.0.0.1',
      PET_MASTER_PORT: '29777',
    });
    expect(gangEnv({})).toEqual({});
  });

  it("passes them to the container, which never shares the host's network (issue 14, item 8)", () => {
    const args = dockerRunArgs(attempt(gang));
    expect(args).toContain('GPUPOOL_RANK=1');
    expect(args).toContain('GPUPOOL_MASTER_ADDR=10.0.0.1');
    expect(args.join(' ')).toContain('--network gpupool-a1');
    expect(dockerRunArgs(attempt()).join(' ')).toContain('--network none');
    expect(dockerRunArgs(attempt()).join(' ')).not.toContain('GPUPOOL_RANK');
  });
});
