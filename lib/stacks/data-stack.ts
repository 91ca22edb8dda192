// Stateful resources: the tables and the node dead-letter queue. Everything here is RETAIN and its
// logical IDs are pinned by test/lib: replacing a table would lose the pool's jobs and ledger.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { NodeDeadLetterQueue } from '../constructs/node-dead-letter-queue';
import { GpupoolTables, type TableRefs } from '../constructs/tables';

export class DataStack extends Stack {
  public readonly tables: TableRefs;
  public readonly nodeDlq: sqs.IQueue;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.tables = new GpupoolTables(this, 'Tables').refs;
    const dlq = new NodeDeadLetterQueue(this, 'NodeDlq');
    this.nodeDlq = dlq.queue;

    new CfnOutput(this, 'NodeDlqUrl', { value: dlq.queue.queueUrl, description: 'dead-letter queue of every per-node queue' });
    new CfnOutput(this, 'NodeDlqAlarmName', { value: dlq.alarm.alarmName, description: 'alarm raised when the node DLQ is not empty' });
  }
}
