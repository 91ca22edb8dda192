// Consumers' jobs.
import { IdSchema, ListQuerySchema, LogsQuerySchema, SubmitJobSchema } from '../domain/schemas';
import { jobView } from '../domain/job/view';
import { cancelJob, getOwnJob, jobLogs, listJobs, submitJob } from '../usecases/jobs';
import { offers } from '../usecases/offers';
import { checkWebhookUrl, deliveriesOf } from '../usecases/webhooks';
import { verificationView } from '../usecases/verification';
import { parseWith } from './kit/problem';
import { routeGroup, type RouteFn } from './kit/router';
import { OffersQuerySchema } from '../usecases/offers';

const routes: Record<string, RouteFn> = {
  'POST /v1/jobs': async (req, d) => {
    const body = parseWith(SubmitJobSchema, req.body);
    // which schemes and addresses a webhook may use depends on the deployment (https only in the cloud)
    if (body.webhook) checkWebhookUrl(body.webhook.url, d.settings.webhooks);
    const job = await submitJob(d, req.caller, body);
    const verification = await verificationView(d, job);
    return { status: 202, body: { job: { ...jobView(job, d.now()), ...(verification ? { verification } : {}) } }, headers: { location: `/v1/jobs/${job.id}` } };
  },
  'GET /v1/jobs': async (req, d) => {
    const q = parseWith(ListQuerySchema, req.query, 'query');
    const page = await listJobs(d, req.caller, q.limit, q.cursor);
    return { status: 200, body: { items: page.items.map((j) => jobView(j, d.now())), nextCursor: page.nextCursor ?? null } };
  },
  'GET /v1/jobs/{id}': async (req, d) => {
    const read = await getOwnJob(d, req.caller, parseWith(IdSchema, req.params.id, 'id'));
    const [deliveries, verification] = await Promise.all([deliveriesOf(d, read), verificationView(d, read)]);
    // deciding the verdict may have just failed this job (VERIFICATION_MISMATCH): show it as it now is
    const now = verification?.siblings.find((s) => s.jobId === read.id)?.status;
    const job = now && now !== read.status ? ((await d.jobs.get(read.id)) ?? read) : read;
    return {
      status: 200,
      body: { job: { ...jobView(job, d.now()), ...(job.webhook ? { webhook: { ...job.webhook, deliveries } } : {}), ...(verification ? { verification } : {}) } },
    };
  },
  'DELETE /v1/jobs/{id}': async (req, d) => ({ status: 202, body: { job: jobView(await cancelJob(d, req.caller, parseWith(IdSchema, req.params.id, 'id')), d.now()) } }),
  'GET /v1/jobs/{id}/logs': async (req, d) => {
    const q = parseWith(LogsQuerySchema, req.query, 'query');
    const r = await jobLogs(d, req.caller, parseWith(IdSchema, req.params.id, 'id'), q.after, q.limit);
    return { status: 200, body: { items: r.lines, last: r.last } };
  },
  'GET /v1/offers': async (req, d) => ({ status: 200, body: { items: await offers(d, parseWith(OffersQuerySchema, req.query, 'query')) } }),
};

export const handler = routeGroup('jobs', routes);
