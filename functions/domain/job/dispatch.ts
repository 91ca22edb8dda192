// What an agent is told about an attempt: the dispatch message, built in one place so that a test can
// compare what a node sees of a checker's canary and of a consumer's job field by field
// (test/domain/canary-disguise.test.ts). Nothing in it may say who submitted the job or why: no account,
// no name, no pin, no hold, no replica index.
import type { DispatchMessage } from '../agent-protocol';
import type { Job } from '../model';
import { gangSpec } from './gang';

/**
 * The id an agent knows a job by, and so the GPUPOOL_JOB_ID its process sees: a replica's group id (the id
 * the consumer got from its submit). Every replica of a group then sees the same job-facing environment, so
 * code that branches on its job id prints the same on each; and the node cannot tell a sibling or a
 * tie-breaker from a plain job by its id. The control plane finds the replica from the attempt
 * (usecases/replicas.ts jobOfAttempt).
 */
export const agentJobId = (job: Pick<Job, 'id' | 'replicaGroup'>): string => job.replicaGroup ?? job.id;

export function dispatchMessage(job: Job, attemptId: string): DispatchMessage {
  const gang = gangSpec(job, attemptId);
  return {
    type: 'dispatch',
    // a replica goes by its group's id: every replica's job sees the same GPUPOOL_JOB_ID
    jobId: agentJobId(job),
    attemptId,
    spec: {
      ...(job.image !== undefined ? { image: job.image } : {}),
      command: job.command,
      env: job.arrayMember ? { ...job.env, ...arrayEnv(job.arrayMember) } : job.env,
      gpus: job.resources.gpus,
      maxDurationSeconds: job.maxDurationSeconds,
      ...(gang ? { gang } : {}),
      // a service replica: where its process listens and what the readiness probe GETs (docs/services.md)
      ...(job.service ? { service: { id: job.service.id, port: job.service.port, readinessPath: job.service.readinessPath } } : {}),
    },
  };
}

/**
 * A job array's member is told where it stands. Set here from the stored job, not by the consumer (a
 * submit's GPUPOOL_* variables are refused, domain/schemas.ts), and an agent passes the spec's env on.
 */
export const arrayEnv = (a: NonNullable<Job['arrayMember']>): Record<string, string> => ({
  GPUPOOL_ARRAY_ID: a.id,
  GPUPOOL_ARRAY_INDEX: String(a.index),
  GPUPOOL_ARRAY_SIZE: String(a.size),
});
