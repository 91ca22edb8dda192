// The files bucket as deployed (docs/data.md): encrypted, TLS only, no public access, outputs and uploads
// expiring after the days cdk.json sets, and S3 rights for the two functions that presign, no other.
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { list, nagErrors, synthStages } from './cdk-helpers';

let t: Template;
let cp: ReturnType<typeof synthStages>['cp'];
let app: ReturnType<typeof synthStages>['app'];
beforeAll(() => {
  ({ app, cp } = synthStages({ extra: { 'gpupool:outputsExpireDays': 7, 'gpupool:uploadsExpireDays': 14 } }));
  t = Template.fromStack(cp);
}, 120_000);

const s3Statements = () => {
  const out: { policy: string; roles: string[]; actions: string[]; resource: string }[] = [];
  for (const [id, r] of Object.entries(t.toJSON().Resources as Record<string, any>)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    for (const s of r.Properties.PolicyDocument.Statement) {
      const actions = list(s.Action) as string[];
      if (actions.some((a) => a.startsWith('s3:'))) out.push({ policy: id, roles: r.Properties.Roles.map((x: any) => x.Ref), actions, resource: JSON.stringify(s.Resource) });
    }
  }
  return out;
};
const roleId = (name: 'jobs' | 'agent') => cp.getLogicalId(cp.functions[name].role.node.defaultChild as never);

describe('files bucket', () => {
  it('is encrypted, blocks public access, refuses plain HTTP and is kept when the stack goes', () => {
    const buckets = t.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(1);
    const [b] = Object.values(buckets) as any[];
    expect(b.DeletionPolicy).toBe('Retain');
    expect(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(b.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    const policy = Object.values(t.findResources('AWS::S3::BucketPolicy'))[0] as any;
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });

  it('expires outputs and checkpoints (jobs/) and uploads (files/) after the days cdk.json sets', () => {
    const [b] = Object.values(t.findResources('AWS::S3::Bucket')) as any[];
    const rules = b.Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual(expect.arrayContaining([
      expect.objectContaining({ Prefix: 'jobs/', ExpirationInDays: 7, Status: 'Enabled' }),
      expect.objectContaining({ Prefix: 'files/', ExpirationInDays: 14, Status: 'Enabled' }),
    ]));
  });

  it('only the jobs and agent functions get S3 rights, each only the actions and prefixes it uses', () => {
    const st = s3Statements();
    expect(new Set(st.flatMap((s) => s.roles))).toEqual(new Set([roleId('jobs'), roleId('agent')]));
    const of = (role: string) =>
      st.filter((s) => s.roles.includes(role)).flatMap((s) => (s.resource.match(/\/(files|jobs)\/\*/g) ?? ['bucket']).map((r) => `${s.actions.join(',')} ${r}`)).sort();
    // DeleteObject: DELETE /v1/files/{id} removes a consumer's upload and its record, under files/ only
    expect(of(roleId('jobs'))).toEqual(['s3:DeleteObject /files/*', 's3:GetObject /files/*', 's3:GetObject /jobs/*', 's3:ListBucket bucket', 's3:PutObject /files/*'].sort());
    expect(of(roleId('agent'))).toEqual(['s3:GetObject /files/*', 's3:GetObject /jobs/*', 's3:ListBucket bucket', 's3:PutObject /jobs/*'].sort());
    // the bucket's name reaches those two functions only
    const withBucket = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([, f]: [string, any]) => f.Properties.Environment?.Variables?.FILES_BUCKET).map(([id]) => id);
    expect(withBucket.sort()).toEqual([cp.getLogicalId(cp.functions.jobs.fn.node.defaultChild as never), cp.getLogicalId(cp.functions.agent.fn.node.defaultChild as never)].sort());
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged error', () => {
    expect(nagErrors(app, cp.files)).toEqual([]);
    expect(nagErrors(app, cp.functions.jobs).concat(nagErrors(app, cp.functions.agent))).toEqual([]);
  });
});
