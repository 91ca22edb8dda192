// The burst function's composition root: the common deps from its environment, the EC2 fleet and the
// deployment facts (API URL, instance profile, subnets) the CDK stack gave it.
import { AwsEc2Fleet } from '../store/ec2-fleet';
import { burstRuntimeFromEnv, type BurstDeps, type BurstRoot } from '../usecases/burst-deps';
import { lambdaRoot, type DepsRoot } from './lambda-root';

export function lambdaBurstRoot(root: DepsRoot = lambdaRoot(), env: NodeJS.ProcessEnv = process.env): BurstRoot {
  let built: BurstDeps | undefined;
  return () => {
    if (built) return built;
    const d = root();
    built = { d, store: d.burst, ec2: new AwsEc2Fleet(), run: burstRuntimeFromEnv(env) };
    return built;
  };
}
