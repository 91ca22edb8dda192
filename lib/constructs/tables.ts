// The DynamoDB tables, built from the same definitions (functions/store/tables.ts) the local stack
// uses, so AWS and DynamoDB Local always have the same keys, indexes and TTL attributes.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLES, type KeyDef, type TableDef, type TableId } from '../../functions/store/tables';

/** A table together with its definition: the definition names its indexes for exact IAM grants. */
export interface TableRef {
  readonly def: TableDef;
  readonly table: dynamodb.ITable;
}
export type TableRefs = Readonly<Record<TableId, TableRef>>;

export interface GpupoolTablesProps {
  /** @default TABLES */
  readonly definitions?: readonly TableDef[];
}

/** `jobs` → `JobsTable`: the construct id the TableDef comment promises. Never change it (logical IDs). */
export const tableConstructId = (id: TableId) => `${id[0].toUpperCase()}${id.slice(1)}Table`;

const attr = (k: KeyDef): dynamodb.Attribute => ({
  name: k.name,
  type: k.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
});

/**
 * Stateful: every table is RETAIN, pay per request, with point-in-time recovery and, where the
 * definition names one, a TTL attribute. No physical names: functions get them via env vars.
 */
export class GpupoolTables extends Construct {
  public readonly refs: TableRefs;

  constructor(scope: Construct, id: string, props: GpupoolTablesProps = {}) {
    super(scope, id);
    const defs = props.definitions ?? TABLES;
    const ids = new Set(defs.map((d) => d.id));
    if (ids.size !== defs.length) throw new Error('GpupoolTables: duplicate table id');

    const refs = {} as Record<TableId, TableRef>;
    for (const def of defs) {
      const table = new dynamodb.Table(this, tableConstructId(def.id), {
        partitionKey: attr(def.partitionKey),
        sortKey: def.sortKey && attr(def.sortKey),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: def.ttlAttribute,
        ...(def.stream ? { stream: dynamodb.StreamViewType[def.stream] } : {}),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      for (const index of def.indexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.name,
          partitionKey: attr(index.partitionKey),
          sortKey: index.sortKey && attr(index.sortKey),
          // the sparse indexes serve whole items to the matcher and the reaper: one read, no fetch-back
          projectionType: dynamodb.ProjectionType.ALL,
        });
      }
      refs[def.id] = { def, table };
    }
    this.refs = Object.freeze(refs);
  }
}
