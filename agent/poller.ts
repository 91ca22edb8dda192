// Long-polls the node's own queue and hands each message to the agent. One AbortController ends the
// in-flight poll at shutdown; errors back off in jittered tiers and only the first error and the
// recovery are logged, so an outage writes two lines, not thousands.
import { DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { QueueMessageSchema, type QueueMessage } from '../functions/domain/agent-protocol';
import { backoffDelay, sleep } from './backoff';
import type { Logger } from './log';
import type { Session } from './session';

/** What to do with a message once handled: delete it, or leave it to come back after its visibility timeout. */
export type Disposition = 'delete' | 'keep';

/** SQS errors that mean our credentials or queue are gone: a fresh session fixes them, retrying does not. */
const SESSION_ERRORS = new Set([
  'ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId', 'UnrecognizedClientException',
  'AccessDenied', 'AccessDeniedException', 'SignatureDoesNotMatch', 'InvalidSecurity',
  'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue',
]);

export class Poller {
  private readonly abort = new AbortController();
  private running?: Promise<void>;

  constructor(
    private readonly session: Session,
    private readonly handle: (msg: QueueMessage) => Promise<Disposition>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Ends the in-flight long poll at once and resolves when the loop has left. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        const messages = await this.receive();
        if (failures > 0) this.log.info('queue poll recovered', { failures });
        failures = 0;
        for (const m of messages) await this.process(m);
      } catch (err) {
        if (this.abort.signal.aborted) break;
        failures++;
        if (failures === 1) this.log.warn('queue poll failing; retrying with backoff', { err });
        // A queue that keeps failing for another reason (the local stack restarted its SQS server on a
        // new port, an endpoint moved) is also cured by a fresh session, which hands out the queue anew.
        if (SESSION_ERRORS.has((err as Error).name) || failures % 3 === 0) await this.session.open().catch(() => undefined);
        await sleep(backoffDelay(failures), this.abort.signal);
      }
    }
  }

  private async receive(): Promise<Message[]> {
    const { queueUrl } = this.session.info;
    const res = await this.session.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        WaitTimeSeconds: 20,
        // More than one makes the local SQS server wait out the full 20 s even when a message is there.
        MaxNumberOfMessages: 1,
      }),
      { abortSignal: this.abort.signal },
    );
    return res.Messages ?? [];
  }

  private async process(m: Message): Promise<void> {
    let msg: QueueMessage;
    try {
      msg = QueueMessageSchema.parse(JSON.parse(m.Body ?? ''));
    } catch (err) {
      // A message we cannot read never becomes readable: drop it instead of receiving it forever.
      this.log.error('unreadable queue message dropped', { err, messageId: m.MessageId });
      return this.delete(m);
    }
    if ((await this.handle(msg)) === 'delete') await this.delete(m);
  }

  private async delete(m: Message): Promise<void> {
    try {
      // Not tied to the shutdown signal: a handled message must still be deleted while draining.
      await this.session.sqs.send(new DeleteMessageCommand({ QueueUrl: this.session.info.queueUrl, ReceiptHandle: m.ReceiptHandle }));
    } catch (err) {
      // It comes back after its visibility timeout; the agent and the control plane both ignore repeats.
      this.log.warn('could not delete queue message', { err, messageId: m.MessageId });
    }
  }
}
