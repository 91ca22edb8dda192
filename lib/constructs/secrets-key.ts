// The KMS key consumers' secrets are sealed under (envelope encryption: functions/store/secret-cipher.ts).
// Its policy is written out rather than left to the default (which lets every IAM principal of the
// account that holds kms:* use it): the account may administer the key but not use it, the secrets
// function may only generate data keys (sealing a new value) and the agent function may only decrypt
// (opening a job's secrets in the answer to an attempt's start), each only under gpupool's encryption
// context. Rotated yearly by KMS; kept when the stack goes (sealed values in the RETAINed table need it).
import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { envNameOf } from '../../functions/settings/env';
import { addSettings } from '../stage-settings';
import type { NodeFunction } from './node-function';

/** what only the account (its administrators) may do: manage, never use */
const ADMIN_ACTIONS = [
  'kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*',
  'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion',
];
/** the env var the functions read the key from (the settings table, functions/settings/table.ts) */
export const SECRETS_KEY_ENV = envNameOf('secretsKeyId');

export interface SecretsKeyProps {
  /** seals new values: kms:GenerateDataKey */
  readonly sealer: NodeFunction;
  /** opens them for an attempt's start: kms:Decrypt */
  readonly opener: NodeFunction;
  readonly stage: string;
}

export class SecretsKey extends Construct {
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: SecretsKeyProps) {
    super(scope, id);
    const onlyGpupoolContext = { StringEquals: { 'kms:EncryptionContext:purpose': 'gpupool-secret' } };
    const use = (sid: string, fn: NodeFunction, action: string) =>
      new iam.PolicyStatement({ sid, principals: [new iam.ArnPrincipal(fn.role.roleArn)], actions: [action], resources: ['*'], conditions: onlyGpupoolContext });
    this.key = new kms.Key(this, 'Key', {
      description: `gpupool ${props.stage}: wraps the data keys of consumers' secrets`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({ sid: 'AccountAdministersNeverUses', principals: [new iam.AccountRootPrincipal()], actions: ADMIN_ACTIONS, resources: ['*'] }),
          use('SecretsFunctionSeals', props.sealer, 'kms:GenerateDataKey'),
          use('AgentFunctionOpens', props.opener, 'kms:Decrypt'),
        ],
      }),
    });
    // the same actions on the roles' side, on this key only
    props.sealer.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.key.keyArn], conditions: onlyGpupoolContext }));
    props.opener.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.key.keyArn], conditions: onlyGpupoolContext }));
    for (const fn of [props.sealer, props.opener]) addSettings(fn.fn, { secretsKeyId: this.key.keyArn });
  }
}
