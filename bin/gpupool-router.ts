// gpupool-router: the services' routing tier as a process (docs/services.md, Routing). On AWS it runs on
// ECS Fargate behind an ALB (lib/constructs/service-router.ts); the local stack runs the same router in
// its gateway instead. GET /healthz answers the load balancer; everything else is service traffic.
import http from 'node:http';
import { SQSClient } from '@aws-sdk/client-sqs';
import { makeDocClient } from '../functions/store/clients';
import { routerConfigFromEnv } from '../functions/router/router-env';
import { DynamoRouteTable } from '../functions/router/route-table';
import { createServiceRouter, routerLog } from '../functions/router/service-router';
import { wakeBy } from '../functions/router/wake';
import { logger } from '../functions/observability/logger';
import { controlPlaneKey } from '../functions/usecases/checker-settings';

async function main(): Promise<void> {
  const config = routerConfigFromEnv(process.env);
  const key = await controlPlaneKey({ signingSecretArn: config.signingSecretArn });
  if (!key) throw new Error('no signing key');
  // every line names the task that wrote it (several run behind the load balancer)
  logger.appendKeys({ routerId: config.routerId });
  const log = routerLog;
  const router = createServiceRouter({
    table: new DynamoRouteTable(makeDocClient(), config.tables),
    signingKey: key.privateKey,
    routerId: config.routerId,
    location: config.location,
    servicesDomain: config.servicesDomain,
    log,
    ...(config.wakeQueueUrl ? { wake: wakeBy(new SQSClient({}), config.wakeQueueUrl) } : {}),
  });
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
      return;
    }
    router.handle(req, res);
  });
  // WebSocket and other protocol switches: the ALB passes them through to the tasks
  server.on('upgrade', (req, socket, head) => router.handleUpgrade(req, socket, head));
  // longer than the load balancer's idle timeout (180 s), so the ALB, not the router, closes idle connections
  server.keepAliveTimeout = 185_000;
  server.headersTimeout = 190_000;
  server.requestTimeout = 0; // a streamed answer may run long; the router's own timeouts bound the wait for headers
  await new Promise<void>((resolve) => server.listen(config.port, '0.0.0.0', resolve));
  log(`gpupool-router ${config.routerId} listening on ${config.port}`);
  // ECS stops a task with SIGTERM after the ALB has drained it: finish what is in flight, then go
  process.once('SIGTERM', () => {
    server.close(() => void router.close().finally(() => process.exit(0)));
    server.closeIdleConnections();
  });
}

main().catch((e: unknown) => {
  logger.error('gpupool-router failed to start', { error: e });
  process.exit(1);
});
