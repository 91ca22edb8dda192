// The KMS key of consumers' secrets (lib/constructs/secrets-key.ts): rotated, retained, its policy letting
// the account administer but not use it, the secrets function only generate data keys and the agent
// function only decrypt (both only under gpupool's encryption context); no other role may use any KMS key;
// the secrets table is granted as TABLE_GRANTS says; cdk-nag has nothing to say about it.
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlaneStack } from '../../lib/stacks/control-plane-stack';
import { list, nagErrors, roleStatements, synthStages } from './cdk-helpers';

let cp: ControlPlaneStack;
let resources: Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>;
let app: ReturnType<typeof synthStages>['app'];
const logicalId = (c: { node: { defaultChild?: unknown } }) => cp.getLogicalId(c.node.defaultChild as never);

beforeAll(() => {
  const s = synthStages();
  cp = s.cp;
  app = s.app;
  resources = Template.fromStack(cp).toJSON().Resources;
}, 120_000);

describe('the secrets key', () => {
  it('is one customer-managed key, rotated, retained', () => {
    const keys = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    const [, key] = keys[0];
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
  });

  it('lets the account administer but not use it, the secrets function only seal, the agent function only open', () => {
    const key = resources[logicalId(cp.secretsKey.key)];
    const stmts = key.Properties.KeyPolicy.Statement as Record<string, any>[];
    const actions = stmts.flatMap((s) => list(s.Action));
    expect(actions).not.toContain('kms:*');
    const admin = stmts.find((s) => s.Sid === 'AccountAdministersNeverUses')!;
    for (const use of ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncrypt*', 'kms:GenerateDataKey*']) expect(list(admin.Action)).not.toContain(use);
    const users = stmts.filter((s) => s.Sid !== 'AccountAdministersNeverUses');
    const roleOf = (fn: 'secrets' | 'agent') => logicalId(cp.functions[fn].role);
    expect(users.map((s) => [s.Sid, list(s.Action), JSON.stringify(s.Principal)])).toEqual([
      ['SecretsFunctionSeals', ['kms:GenerateDataKey'], expect.stringContaining(roleOf('secrets'))],
      ['AgentFunctionOpens', ['kms:Decrypt'], expect.stringContaining(roleOf('agent'))],
    ]);
    for (const s of users) expect(s.Condition).toEqual({ StringEquals: { 'kms:EncryptionContext:purpose': 'gpupool-secret' } });
  });

  it('no other function role holds any KMS action; the two hold theirs on this key only', () => {
    const keyId = logicalId(cp.secretsKey.key);
    for (const [name, f] of Object.entries(cp.functions)) {
      const kms = roleStatements(resources, logicalId(f.role)).filter((s) => list(s.Action).some((a: string) => a.startsWith('kms:')));
      const want = name === 'secrets' ? ['kms:GenerateDataKey'] : name === 'agent' ? ['kms:Decrypt'] : [];
      expect(kms.flatMap((s) => list(s.Action)), name).toEqual(want);
      for (const s of kms) expect(JSON.stringify(s.Resource), name).toContain(keyId);
    }
  });

  it('is named to the two functions (SECRETS_KEY_ID) and to no other', () => {
    const fns = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const withKey = fns.filter((f) => f.Properties.Environment?.Variables?.SECRETS_KEY_ID);
    expect(withKey).toHaveLength(2);
  });

  it('leaves cdk-nag AwsSolutions without an unacknowledged error', () => {
    expect(nagErrors(app, cp.secretsKey)).toEqual([]);
    expect(nagErrors(app, cp.functions.secrets)).toEqual([]);
  });
});
