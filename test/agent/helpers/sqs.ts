// The real in-process SQS server (local-aws-sqs) on a free port, with one queue for the node.
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSqsServer } from 'local-aws-sqs';
import type { QueueMessage } from '../../../functions/domain/agent-protocol';

export interface LocalSqs {
  endpoint: string;
  queueUrl: string;
  send(msg: QueueMessage): Promise<void>;
  /** visible plus in-flight messages */
  depth(): Promise<number>;
  close(): Promise<void>;
}

/** `visibilitySeconds` is short so a message the agent leaves on the queue comes back within a test. */
export async function startSqs(queueName = 'node-1', visibilitySeconds = 1): Promise<LocalSqs> {
  // port 0: the OS picks a free port; the server reports it through address().
  const server: Server = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new SQSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: queueName, Attributes: { VisibilityTimeout: String(visibilitySeconds) } }));
  const queueUrl = QueueUrl!;
  return {
    endpoint,
    queueUrl,
    async send(msg) {
      await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(msg) }));
    },
    async depth() {
      const { Attributes: a } = await client.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(a?.ApproximateNumberOfMessages ?? 0) + Number(a?.ApproximateNumberOfMessagesNotVisible ?? 0);
    },
    async close() {
      client.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
