// The in-process SQS server as the control plane and the agent use it: queues with a DLQ redrive
// policy, long polls that wake on send, visibility timeouts, and its known differences from SQS.
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqsLocal } from '../../../lib/local/sqs-local';
import { startEngines, type Engines } from '../../helpers/engines';

let engines: Engines;
let sqs: SQSClient;
beforeAll(async () => {
  engines = await startEngines();
  sqs = engines.sqs;
});
afterAll(() => engines?.stop());

let n = 0;
async function queueWithDlq(visibilityTimeout: number, maxReceiveCount: number) {
  const name = `q${++n}-${Date.now()}`;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn;
  const q = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
      },
    }),
  );
  return { url: q.QueueUrl!, dlqUrl: dlq.QueueUrl! };
}

// local-aws-sqs ignores MessageSystemAttributeNames; the deprecated AttributeNames works on both.
const receive = (QueueUrl: string, WaitTimeSeconds: number) =>
  sqs.send(
    new ReceiveMessageCommand({
      QueueUrl,
      WaitTimeSeconds,
      MaxNumberOfMessages: 1,
      AttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );

describe('startSqsLocal', () => {
  it('puts the bound port, not 0, into queue URLs', async () => {
    const { url } = await queueWithDlq(30, 3);
    expect(url.startsWith(`${engines.sqsEndpoint}/`)).toBe(true);
  });

  it('wakes a waiting long poll (MaxNumberOfMessages 1) as soon as a message arrives', async () => {
    const { url } = await queueWithDlq(30, 3);
    const t0 = performance.now();
    const pending = receive(url, 10);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: '{"type":"job"}',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'dispatch' } },
      }),
    );
    const r = await pending;
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.Messages?.[0]).toMatchObject({
      Body: '{"type":"job"}',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'dispatch' } },
      Attributes: expect.objectContaining({ ApproximateReceiveCount: '1' }),
    });
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: r.Messages![0].ReceiptHandle }));
  });

  it('redelivers after the visibility timeout, then moves the message to the DLQ', async () => {
    const { url, dlqUrl } = await queueWithDlq(1, 2);
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'again' }));
    const first = await receive(url, 5);
    expect(first.Messages?.[0].Body).toBe('again');
    // not deleted: it comes back once the 1 s visibility timeout ends (the long poll waits for it)
    const second = await receive(url, 5);
    expect(second.Messages?.[0]).toMatchObject({ Body: 'again', MessageId: first.Messages![0].MessageId });
    expect(second.Messages![0].Attributes?.ApproximateReceiveCount).toBe('2');
    expect(second.Messages![0].ReceiptHandle).not.toBe(first.Messages![0].ReceiptHandle);
    // received maxReceiveCount times and not deleted: the next expiry redrives it
    const dead = await receive(dlqUrl, 5);
    expect(dead.Messages?.[0].Body).toBe('again');
    expect((await receive(url, 0)).Messages ?? []).toEqual([]);
  });

  it('rejects, instead of crashing the process, when a given port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      await expect(startSqsLocal({ port: (blocker.address() as AddressInfo).port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });

  it('stops promptly while a long poll is pending', async () => {
    const own = await startSqsLocal();
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    const c = new SQSClient({ endpoint: own.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    const q = await c.send(new CreateQueueCommand({ QueueName: 'idle' }));
    c.destroy();
    // a raw request, so we know the poll has reached the server before we stop it
    const body = JSON.stringify({ QueueUrl: q.QueueUrl, WaitTimeSeconds: 20 });
    const req = request(own.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ReceiveMessage' },
    });
    const outcome = new Promise<string>((resolve) => {
      req.on('response', (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (e) => resolve(e.message));
    });
    await new Promise<void>((r) => req.end(body, r));
    await new Promise((r) => setTimeout(r, 0));
    const t0 = performance.now();
    await own.stop();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await outcome).toMatch(/socket hang up|ECONNRESET/);
  });
});
