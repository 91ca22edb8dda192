// The local gateway's `/s/<serviceId>/…`: the services' routing tier (functions/router) in process, with the
// local stack's tables and signing key. Nodes of the local stack listen on loopback, so their endpoints may.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TableNames } from '../../functions/store/tables';
import { DynamoRouteTable } from '../../functions/router/route-table';
import { createServiceRouter, type ServiceRouter } from '../../functions/router/service-router';
import { controlPlaneKey, type CheckerSettings } from '../../functions/usecases/checker-settings';
import type { ExtraRoute } from './gateway';

export interface LocalServiceRoutes {
  routes: ExtraRoute[];
  router: ServiceRouter;
  close(): Promise<void>;
}

export async function localServiceRoutes(o: {
  db: DynamoDBDocumentClient;
  tables: TableNames;
  checker: CheckerSettings;
  log?: (msg: string) => void;
  /** reconciles a service now (the local stack: the reconcile itself; AWS: the wake queue) */
  wake?: (serviceId: string) => Promise<void>;
}): Promise<LocalServiceRoutes> {
  const key = await controlPlaneKey(o.checker);
  if (!key) throw new Error('the local stack has no control-plane signing key: the routing tier cannot sign route passes');
  const router = createServiceRouter({
    table: new DynamoRouteTable(o.db, { services: o.tables.services, jobs: o.tables.jobs, nodes: o.tables.nodes, keys: o.tables.keys }),
    signingKey: key.privateKey,
    routerId: 'local',
    allowAddresses: o.checker.allowAddresses,
    ...(o.wake ? { wake: o.wake } : {}),
    log: o.log ? (msg, err) => o.log!(`router: ${msg}${err ? ` (${(err as Error).message ?? String(err)})` : ''}`) : undefined,
  });
  return { routes: [{ method: '*', path: '/s/*', serve: (req, res) => router.handle(req, res), upgrade: (req, socket, head) => router.handleUpgrade(req, socket, head) }], router, close: () => router.close() };
}
