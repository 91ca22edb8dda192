// Runs one control-plane code path that logs, in a fresh process with the environment the test gives, so
// the test reads the lines exactly as Lambda would receive them on stdout/stderr.
import { SQSClient } from '@aws-sdk/client-sqs';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { errorToProblem } from '../../../functions/http/kit/problem';
import { logger } from '../../../functions/observability/logger';
import { observed } from '../../../functions/observability/invocation';
import { metricsOn, noopSink } from '../../../functions/observability/metrics';
import { SqsPlacementWake } from '../../../functions/usecases/placement-wake';

const cases: Record<string, () => Promise<void>> = {
  // a use case's warning with a real SDK failure: nothing listens on port 1
  async wake() {
    const sqs = new SQSClient({ endpoint: 'http://127.0.0.1:1', region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    await new SqsPlacementWake(sqs, 'http://127.0.0.1:1/000000000000/wake').wake();
  },
  // an unexpected error that carries stored data (a cancelled transaction returns the items it read)
  async unhandled() {
    const secret = process.env.TEST_SECRET!;
    const cause = Object.assign(new Error('inner failure'), { Item: { value: { S: secret } } });
    const e = new TransactionCanceledException({
      message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed]',
      $metadata: {},
      CancellationReasons: [{ Code: 'ConditionalCheckFailed', Item: { value: { S: secret } } }],
    });
    (e as Error).cause = cause;
    errorToProblem(e, 'api-request-1');
  },
  // a handler wrapped as every function's is (functions/observability/invocation.ts), invoked with a Lambda context
  async invocation() {
    const metrics = metricsOn(noopSink);
    const handler = observed(() => metrics, async () => logger.info('inside the handler', { placed: 2 }));
    const context = { awsRequestId: 'req-42', functionName: 'gpupool-dev-sweep', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:gpupool-dev-sweep', memoryLimitInMB: '512' };
    await handler({}, context as never);
  },
  async levels() {
    logger.debug('debug line');
    logger.info('info line');
  },
};

await cases[process.argv[2]!]!();
