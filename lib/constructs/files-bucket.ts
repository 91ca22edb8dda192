// The stage's bucket of files, outputs and checkpoints (docs/data.md). Encrypted (SSE-S3), TLS only,
// public access blocked, owner-enforced objects; what jobs leave (outputs, checkpoints under `jobs/`)
// and what consumers upload (`files/`) expire after the days cdk.json sets. Only the functions that
// presign get access, each to the prefixes its use cases touch: the jobs API (a consumer's uploads,
// the outputs listing) and the agent API (inputs and restores to read, outputs and checkpoints to
// write). A presigned URL carries its signer's rights, so these grants bound what any URL can do.
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { envNameOf } from '../../functions/settings/env';
import { addSettings } from '../stage-settings';
import type { NodeFunction } from './node-function';

/** the env var the functions read the bucket from (the settings table, functions/settings/table.ts) */
export const FILES_BUCKET_ENV = envNameOf('files.bucket');

export interface FilesBucketProps {
  /** POST /v1/files (records and upload grants under files/), GET /v1/jobs/{id}/outputs (reads under jobs/) */
  readonly jobsApi: NodeFunction;
  /** the agent API: reads files/ and jobs/, writes jobs/ (output and checkpoint grants, manifests) */
  readonly agentApi: NodeFunction;
  /** days after which objects under jobs/ (outputs, checkpoints) expire */
  readonly outputsExpireDays: number;
  /** days after which uploaded files expire */
  readonly uploadsExpireDays: number;
}

export class FilesBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: FilesBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      // consumers' data outlives a stack update gone wrong; the lifecycle rules empty it over time
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'ExpireJobData', prefix: 'jobs/', expiration: Duration.days(props.outputsExpireDays) },
        { id: 'ExpireUploads', prefix: 'files/', expiration: Duration.days(props.uploadsExpireDays) },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    const b = this.bucket;
    // written out, not grantRead/grantPut: those add GetObject*, List*, Abort* and legal-hold actions
    // nothing here uses. ListBucket (keys only) makes a missing key a 404 rather than a 403.
    const allow = (fn: NodeFunction, actions: string[], prefixes: string[]) =>
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: prefixes.map((p) => b.arnForObjects(`${p}/*`)) }));
    for (const fn of [props.jobsApi, props.agentApi]) {
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [b.bucketArn] }));
      allow(fn, ['s3:GetObject'], ['files', 'jobs']);
      addSettings(fn.fn, { files: { bucket: b.bucketName } });
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(b.node.defaultChild as s3.CfnBucket)}.Arn>/files/*]`,
        reason: 'Object keys carry account, file, job and attempt ids known only at runtime; the grant is limited to the prefix its use cases read or write, and each presigned URL to one exact key.',
      });
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(b.node.defaultChild as s3.CfnBucket)}.Arn>/jobs/*]`,
        reason: 'Object keys carry job and attempt ids known only at runtime; the grant is limited to the prefix its use cases read or write, and each presigned URL to one exact key.',
      });
    }
    // the jobs API writes a consumer's file records and presigns its uploads; the agent API presigns output
    // and checkpoint uploads and writes their manifests
    allow(props.jobsApi, ['s3:PutObject'], ['files']);
    // DELETE /v1/files/{id} removes the bytes and the record; the listing's items expire with the lifecycle rule
    allow(props.jobsApi, ['s3:DeleteObject'], ['files']);
    addSettings(props.jobsApi.fn, { files: { uploadsExpireDays: props.uploadsExpireDays } });
    allow(props.agentApi, ['s3:PutObject'], ['jobs']);
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'Every object access goes through a presigned URL the control plane issued for one key and logged; server access logs would add a second bucket and per-request log objects for no new fact. CloudTrail data events can be enabled by the operator.',
    });
  }
}
