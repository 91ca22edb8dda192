// The agent's side of the API: node keys only.
import { FinishRequestSchema, HeartbeatRequestSchema, LogsRequestSchema, SessionRequestSchema, StartRequestSchema } from '../domain/agent-protocol';
import { IdSchema } from '../domain/schemas';
import { appendLogs, finishAttempt, heartbeat, openSession, startAttempt } from '../usecases/agent';
import { parseWith } from './kit/problem';
import { CheckpointRequestSchema, OutputsRequestSchema } from '../domain/files/protocol';
import { checkpoint, grantOutputs } from '../usecases/files';
import { routeGroup, type RouteFn } from './kit/router';
import { lambdaRoot } from '../wiring/lambda-root';
import { kmsSecretCipher } from '../store/kms-cipher';

const jobId = (p: Record<string, string>) => parseWith(IdSchema, p.id, 'id');

export const routes: Record<string, RouteFn> = {
  'POST /v1/agent/session': async (req, d) => {
    const b = parseWith(SessionRequestSchema, req.body ?? {});
    return { status: 200, body: await openSession(d, req.caller, b.running, { probeUrl: b.probeUrl, publicKey: b.publicKey, bootId: b.bootId }) };
  },
  'POST /v1/agent/heartbeat': async (req, d) => {
    const b = parseWith(HeartbeatRequestSchema, req.body);
    return { status: 200, body: await heartbeat(d, req.caller, b) };
  },
  'POST /v1/agent/jobs/{id}/start': async (req, d) => {
    const b = parseWith(StartRequestSchema, req.body);
    return { status: 200, body: await startAttempt(d, req.caller, jobId(req.params), b.attemptId, b.seq) };
  },
  'POST /v1/agent/jobs/{id}/logs': async (req, d) => {
    const b = parseWith(LogsRequestSchema, req.body);
    return { status: 200, body: await appendLogs(d, req.caller, jobId(req.params), b.attemptId, b.lines, b.pull) };
  },
  'POST /v1/agent/jobs/{id}/finish': async (req, d) => ({ status: 200, body: await finishAttempt(d, req.caller, jobId(req.params), parseWith(FinishRequestSchema, req.body)) }),
  'POST /v1/agent/jobs/{id}/outputs': async (req, d) => ({ status: 200, body: await grantOutputs(d, req.caller, jobId(req.params), parseWith(OutputsRequestSchema, req.body)) }),
  'POST /v1/agent/jobs/{id}/checkpoint': async (req, d) => ({ status: 200, body: await checkpoint(d, req.caller, jobId(req.params), parseWith(CheckpointRequestSchema, req.body)) }),
};

// this function may use the secrets key (lib/constructs/secrets-key.ts): it alone carries the KMS client
export const handler = routeGroup('agent', routes, lambdaRoot({ secretCipher: kmsSecretCipher }));
