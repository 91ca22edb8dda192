// The console's deployment, asserted on the synthesized template: a private, encrypted, SSL-only
// bucket read by CloudFront through OAC; /v1/* routed uncached to the API; the console's CSP; the build
// made by Vite at synth; cdk-nag AwsSolutions and cfn-lint clean.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../../lib/console/security-headers';
import { ROUTER_CODE } from '../../lib/constructs/console';
import { ConsoleStack } from '../../lib/stacks/console-stack';
import { cdkContext, cfnLint, cfnLintMissing, nagErrors } from './cdk-helpers';

type Resource = { Type: string; Properties: Record<string, any> };

// AWS's managed policies, by their fixed ids
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

let outdir: string;
let app: App;
let stack: ConsoleStack;
/** the same stack with an account and region, as `cdk deploy` makes it: cdk-nag then prints names literally */
let placed: ConsoleStack;
let t: Template;
let res: Record<string, Resource>;

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'gpupool-console-cdk-'));
  app = new App({ outdir, context: cdkContext });
  // the site needs only the API's id; the control plane's real API is wired in bin/app.ts
  stack = new ConsoleStack(app, 'Console', { api: { restApiId: 'abc123def4' }, apiStageName: 'dev', logRetentionDays: 30 });
  placed = new ConsoleStack(app, 'PlacedConsole', {
    env: { account: '123456789012', region: 'eu-west-1' },
    api: { restApiId: 'abc123def4' },
    apiStageName: 'dev',
    logRetentionDays: 30,
  });
  t = Template.fromStack(stack);
  res = t.toJSON().Resources;
  app.synth();
}, 120_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const ofType = (type: string) => Object.entries(res).filter(([, r]) => r.Type === type);
const idOf = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);

describe('console bucket', () => {
  it('is private, encrypted, and logs its access', () => {
    const files = res[idOf(stack.site.bucket)].Properties;
    expect(files.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(files.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(files.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: idOf(stack.site.logBucket) });
    expect(files.WebsiteConfiguration).toBeUndefined();
  });

  it('refuses plain HTTP and is read only by this distribution', () => {
    const policy = JSON.stringify(t.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: idOf(stack.site.bucket) } } }));
    expect(policy).toContain('"aws:SecureTransport":"false"');
    expect(policy).toContain('cloudfront.amazonaws.com');
    expect(policy).toContain(idOf(stack.site.distribution));
    expect(policy).not.toMatch(/"Principal":"\*","Action":"s3:GetObject"/);
  });
});

describe('distribution', () => {
  const config = () => res[idOf(stack.site.distribution)].Properties.DistributionConfig;

  it('serves the bucket through OAC over HTTPS, with the console CSP and the router function', () => {
    const c = config();
    expect(c.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    const s3Origin = c.Origins.find((o: any) => o.Id === c.DefaultCacheBehavior.TargetOriginId);
    expect(s3Origin.OriginAccessControlId).toBeDefined();
    expect(s3Origin.S3OriginConfig.OriginAccessIdentity).toBe('');
    expect(c.DefaultCacheBehavior.FunctionAssociations[0].EventType).toBe('viewer-request');
    expect(c.Logging.Bucket).toBeDefined();
    t.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({ ContentSecurityPolicy: { ContentSecurityPolicy: CONSOLE_CSP, Override: true } }),
      }),
    });
  });

  it('routes /v1/* to the API stage, uncached, with the caller key forwarded', () => {
    const c = config();
    const v1 = c.CacheBehaviors.find((b: any) => b.PathPattern === '/v1/*');
    expect(v1).toMatchObject({ ViewerProtocolPolicy: 'https-only', CachePolicyId: CACHING_DISABLED, OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST });
    expect(v1.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS']));
    const apiOrigin = c.Origins.find((o: any) => o.Id === v1.TargetOriginId);
    expect(apiOrigin.OriginPath).toBe('/dev');
    expect(apiOrigin.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
    expect(JSON.stringify(apiOrigin.DomainName)).toContain('abc123def4.execute-api.');
  });

  // the viewer-request function, run as CloudFront would run it
  const router = new Function(`${ROUTER_CODE}; return handler;`)() as (e: unknown) => any;
  const request = (uri: string) => router({ request: { uri, headers: {} } });
  it.each([
    ['/', 302, '/console/'],
    ['/console', 302, '/console/'],
  ])('redirects %s', (uri, status, location) => {
    expect(request(uri)).toMatchObject({ statusCode: status, headers: { location: { value: location } } });
  });
  it.each([
    ['/console/', '/console/index.html'],
    ['/console/assets/index-abc.js', '/console/assets/index-abc.js'],
  ])('reads %s from %s', (uri, key) => {
    expect(request(uri).uri).toBe(key);
  });
});

describe('deployment', () => {
  it('copies the build under console/ and invalidates index.html', () => {
    const [[, d]] = ofType('Custom::CDKBucketDeployment');
    expect(d.Properties).toMatchObject({ DestinationBucketKeyPrefix: 'console/', Prune: true, DistributionPaths: ['/console/', '/console/index.html'] });
  });

  it('built the console at synth with Vite, for the /console/ base', () => {
    const built = readdirSync(outdir)
      .filter((f) => f.startsWith('asset.'))
      .map((f) => path.join(outdir, f, 'index.html'))
      .find((f) => existsSync(f));
    expect(built, 'an asset directory with the built index.html').toBeDefined();
    const html = readFileSync(built!, 'utf8');
    expect(html).toMatch(/src="\/console\/assets\/index-[\w-]+\.js"/);
    expect(readdirSync(path.join(path.dirname(built!), 'assets')).some((f) => f.startsWith('countries-110m'))).toBe(true);
  });

  it('outputs the console URL', () => {
    expect(JSON.stringify(t.toJSON().Outputs.ConsoleUrl.Value)).toContain('/console/');
  });
});

describe('checks', () => {
  it('passes cdk-nag AwsSolutions with no unacknowledged error', () => {
    for (const s of [stack, placed]) {
      expect(nagErrors(app, s)).toEqual([]);
      expect(Annotations.fromStack(s).findError('*', Match.anyValue())).toEqual([]);
    }
  });

  it.skipIf(cfnLintMissing())('passes cfn-lint with no error', () => {
    const run = cfnLint([path.join(outdir, 'Console.template.json')]);
    // exit status is a bit set: 2 error, 4 warning, 8 informational; only errors fail
    expect(run.status, run.stdout + run.stderr).not.toBeNull();
    expect(run.status! & 2, run.stdout).toBe(0);
  }, 60_000);
});
