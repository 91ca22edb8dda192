// Freed capacity asks for placement; it does not place other accounts' jobs inside its own request
// (issue 18). A finish, a node back in service or stake that brings nodes online wakes placement, and
// placement runs apart, one sweep at a time: inline sweeps in every finish and heartbeat raced each other
// for the same nodes and queue heads (under churn ten lost claims for each placement, and jobs waited with
// GPUs free), and a sweep that failed after the request's own commit turned its success into an error.
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { logger } from '../observability/logger';

export interface PlacementWake {
  /** asks for a sweep soon; `sweep` is the one to run where placement runs in this process */
  wake(sweep: () => Promise<unknown>): Promise<void>;
  /** resolves once no sweep this process started is running (the local stack's stop, tests) */
  settled(): Promise<void>;
}

/**
 * On AWS: a message on the placement queue, which invokes the sweep function (at most two at once, each
 * for a batch of wakes). A lost message costs at most a minute: the scheduled sweep places the jobs then.
 */
export class SqsPlacementWake implements PlacementWake {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async wake(): Promise<void> {
    try {
      await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: '{}' }));
    } catch (e) {
      logger.warn('placement wake not sent; the scheduled sweep places the jobs', { error: e });
    }
  }

  async settled(): Promise<void> {}
}

/**
 * In one process (the local stack, tests): the sweep runs in the background, never two at once; wakes
 * that arrive while one runs are served by exactly one more run. The request that woke it does not wait.
 */
export class InProcessPlacementWake implements PlacementWake {
  private running?: Promise<void>;
  private again?: () => Promise<unknown>;

  constructor(private readonly onError: (e: unknown) => void = (e) => logger.error('placement sweep failed', { error: e })) {}

  async wake(sweep: () => Promise<unknown>): Promise<void> {
    if (this.running) {
      this.again = sweep;
      return;
    }
    this.running = this.loop(sweep).finally(() => (this.running = undefined));
  }

  settled(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async loop(first: () => Promise<unknown>): Promise<void> {
    for (let next: (() => Promise<unknown>) | undefined = first; next; ) {
      this.again = undefined;
      await next().catch(this.onError);
      next = this.again;
    }
  }
}
