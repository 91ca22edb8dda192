// Services (docs/services.md): create (the token shown once), list, read, change (a rolling update when
// what replicas run changes), delete. Owner-only; an admin may read.
import { IdSchema, ListQuerySchema } from '../domain/schemas';
import { CreateServiceSchema, PatchServiceSchema } from '../domain/service/schemas';
import { createService, deleteService, getService, listServices, patchService } from '../usecases/services';
import { parseWith } from './kit/problem';
import { routeGroup, type RouteFn } from './kit/router';
import { lambdaRoot } from '../wiring/lambda-root';

const serviceId = (p: Record<string, string>) => parseWith(IdSchema, p.id, 'id');

export const routes: Record<string, RouteFn> = {
  'POST /v1/services': async (req, d) => {
    const created = await createService(d, req.caller, parseWith(CreateServiceSchema, req.body));
    return { status: 201, body: created, headers: { location: `/v1/services/${created.service.id}` } };
  },
  'GET /v1/services': async (req, d) => {
    const q = parseWith(ListQuerySchema, req.query, 'query');
    return { status: 200, body: await listServices(d, req.caller, q.limit, q.cursor) };
  },
  'GET /v1/services/{id}': async (req, d) => ({ status: 200, body: { service: await getService(d, req.caller, serviceId(req.params)) } }),
  'PATCH /v1/services/{id}': async (req, d) => ({ status: 200, body: { service: await patchService(d, req.caller, serviceId(req.params), parseWith(PatchServiceSchema, req.body)) } }),
  'DELETE /v1/services/{id}': async (req, d) => ({ status: 202, body: { service: await deleteService(d, req.caller, serviceId(req.params)) } }),
};

export const handler = routeGroup('services', routes, lambdaRoot());
