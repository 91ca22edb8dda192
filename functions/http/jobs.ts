// Consumers' jobs.
import { IdSchema, ListJobsQuerySchema, ListQuerySchema, LogsQuerySchema, SubmitJobSchema } from '../domain/schemas';
import { jobView } from '../domain/job/view';
import { cancelArray, cancelJob, getOwnJob, jobLogs, listArray, listJobs, submitArray, submitJob } from '../usecases/jobs';
import { offers } from '../usecases/offers';
import { checkWebhookUrl, deliveriesOf } from '../usecases/webhooks';
import { verificationView } from '../usecases/verification';
import { queueView } from '../usecases/queue-position';
import { parseWith } from './kit/problem';
import { routeGroup, type RouteFn } from './kit/router';
import { lambdaRoot } from '../wiring/lambda-root';
import { OffersQuerySchema } from '../usecases/offers';
import { arrayJobId } from '../domain/job/array-id';
import * as z from 'zod';
import { CreateFileSchema } from '../domain/files/schemas';
import { createFile, listOutputs } from '../usecases/files';
import { deleteFile, getFile, listFiles } from '../usecases/file-library';

/** an array listing's cursor: the next index */
const ArrayCursor = z.coerce.number().int().min(0).max(1_000_000);

export const routes: Record<string, RouteFn> = {
  'POST /v1/jobs': async (req, d) => {
    const body = parseWith(SubmitJobSchema, req.body);
    // which schemes and addresses a webhook may use depends on the deployment (https only in the cloud)
    if (body.webhook) checkWebhookUrl(body.webhook.url, d.settings.webhooks);
    if (body.array) {
      const a = await submitArray(d, req.caller, { ...body, array: body.array });
      const jobs = a.jobs.map((j) => jobView(j, d.now()));
      return { status: 202, body: { array: { id: a.id, size: a.size, jobIds: jobs.map((j) => j.id) }, job: jobs[0] }, headers: { location: `/v1/jobs?arrayId=${a.id}` } };
    }
    const job = await submitJob(d, req.caller, body);
    const verification = await verificationView(d, job);
    return { status: 202, body: { job: { ...jobView(job, d.now()), ...(verification ? { verification } : {}) } }, headers: { location: `/v1/jobs/${job.id}` } };
  },
  'GET /v1/jobs': async (req, d) => {
    const q = parseWith(ListJobsQuerySchema, req.query, 'query');
    if (q.arrayId) {
      const from = q.cursor === undefined ? 0 : parseWith(ArrayCursor, q.cursor, 'cursor');
      const r = await listArray(d, req.caller, q.arrayId, q.limit, from);
      return { status: 200, body: { items: r.items.map((j) => jobView(j, d.now())), nextCursor: r.next === undefined ? null : String(r.next) } };
    }
    const page = await listJobs(d, req.caller, q.limit, q.cursor);
    return { status: 200, body: { items: page.items.map((j) => jobView(j, d.now())), nextCursor: page.nextCursor ?? null } };
  },
  'GET /v1/jobs/{id}': async (req, d) => {
    const read = await getOwnJob(d, req.caller, parseWith(IdSchema, req.params.id, 'id'));
    // queue: computed here only, never for lists (bounded reads: usecases/queue-position.ts)
    const [deliveries, verification, queue] = await Promise.all([deliveriesOf(d, read), verificationView(d, read), queueView(d, read)]);
    // deciding the verdict may have just failed this job (VERIFICATION_MISMATCH): show it as it now is
    const now = verification?.siblings.find((s) => s.jobId === read.id)?.status;
    const job = now && now !== read.status ? ((await d.jobs.get(read.id)) ?? read) : read;
    return {
      status: 200,
      body: {
        job: {
          ...jobView(job, d.now()),
          ...(job.webhook ? { webhook: { ...job.webhook, deliveries } } : {}),
          ...(verification ? { verification } : {}),
          ...(queue && job.status === 'QUEUED' ? { queue } : {}),
        },
      },
    };
  },
  'DELETE /v1/jobs/{id}': async (req, d) => {
    const id = parseWith(IdSchema, req.params.id, 'id');
    // an array's id names no job: cancelling it cancels its members (docs/api.md, Arrays)
    if (!(await d.jobs.get(id)) && (await d.jobs.get(arrayJobId(id, 0)))?.arrayMember?.id === id) return { status: 202, body: { array: await cancelArray(d, req.caller, id) } };
    return { status: 202, body: { job: jobView(await cancelJob(d, req.caller, id), d.now()) } };
  },
  'GET /v1/jobs/{id}/logs': async (req, d) => {
    const q = parseWith(LogsQuerySchema, req.query, 'query');
    const r = await jobLogs(d, req.caller, parseWith(IdSchema, req.params.id, 'id'), q.after, q.limit);
    return { status: 200, body: { items: r.lines, last: r.last } };
  },
  'POST /v1/files': async (req, d) => ({ status: 201, body: await createFile(d, req.caller, parseWith(CreateFileSchema, req.body)) }),
  'GET /v1/files': async (req, d) => {
    const q = parseWith(ListQuerySchema, req.query, 'query');
    return { status: 200, body: await listFiles(d, req.caller, q.limit, q.cursor) };
  },
  'GET /v1/files/{id}': async (req, d) => ({ status: 200, body: { file: await getFile(d, req.caller, parseWith(IdSchema, req.params.id, 'id')) } }),
  'DELETE /v1/files/{id}': async (req, d) => {
    await deleteFile(d, req.caller, parseWith(IdSchema, req.params.id, 'id'));
    return { status: 204 };
  },
  'GET /v1/jobs/{id}/outputs': async (req, d) => ({ status: 200, body: await listOutputs(d, req.caller, parseWith(IdSchema, req.params.id, 'id')) }),
  'GET /v1/offers': async (req, d) => ({ status: 200, body: { items: await offers(d, parseWith(OffersQuerySchema, req.query, 'query')) } }),
};

export const handler = routeGroup('jobs', routes, lambdaRoot());
