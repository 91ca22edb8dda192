// The routing tier's wake on AWS: a message on the services' wake queue naming a service loaded beyond its
// replicas; the services function reconciles it at once (functions/scheduled/services.ts).
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export const wakeBy =
  (sqs: SQSClient, queueUrl: string) =>
  async (serviceId: string): Promise<void> => {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ serviceId }) }));
  };
