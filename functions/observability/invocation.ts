// What every invocation of a gpupool function gets, API or scheduled: the Lambda context on its log lines
// (request id, cold start, function name; Powertools' injectLambdaContext does the same for middy) and
// whatever it recorded written as metrics when it returns or throws.
import type { Context } from 'aws-lambda';
import { logger } from './logger';
import type { MetricsPort } from './metrics';

export function observed<E, R>(metrics: () => MetricsPort, fn: (event: E, context?: Context) => Promise<R>): (event?: E, context?: Context) => Promise<R> {
  return async (event?: E, context?: Context) => {
    // only on Lambda (one function per process): the local stack serves every function from one process,
    // where one function's context would stay on the shared logger's lines of the others
    if (context?.awsRequestId && process.env.AWS_LAMBDA_FUNCTION_NAME) logger.addContext(context);
    try {
      return await fn(event as E, context);
    } finally {
      metrics().flush();
    }
  };
}
