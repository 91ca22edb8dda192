// The web console on AWS: its files in a private S3 bucket, served by CloudFront through Origin Access
// Control under /console/*, and the API's /v1/* routed by the same distribution to API Gateway. One
// origin for both means the console needs no configured API URL and the API needs no CORS — the same
// shape as the local gateway, where /console and /v1 share 127.0.0.1:8787.
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { CONSOLE_CSP, CONSOLE_PATH } from '../console/security-headers';
import { retentionDays } from './node-function';
import { acknowledgeConsoleFindings } from './console-nag';
import { consoleBuild } from './console-build';

export interface ConsoleSiteProps {
  /** the REST API the distribution routes /v1/* to (only its id is needed) */
  readonly api: Pick<apigw.IRestApi, 'restApiId'>;
  /** its stage: the origin path in front of /v1 */
  readonly apiStageName: string;
  readonly logRetentionDays: number;
  /** the console's built files. @default consoleBuild(): Vite builds lib/console at synth */
  readonly source?: s3deploy.ISource;
  /** @default PRICE_CLASS_100 (North America and Europe edges: the cheapest) */
  readonly priceClass?: cloudfront.PriceClass;
  /** days CloudFront and S3 access logs are kept. @default 90 */
  readonly accessLogDays?: number;
}

/**
 * Viewer-request function: `/` and `/console` go to `/console/`, and `/console/` reads index.html —
 * S3 through OAC has no index documents. Deep links need nothing more: the console routes by #hash.
 */
export const ROUTER_CODE = `function handler(event) {
  var uri = event.request.uri;
  if (uri === '/' || uri === '${CONSOLE_PATH}') {
    return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '${CONSOLE_PATH}/' } } };
  }
  if (uri === '${CONSOLE_PATH}/') event.request.uri = '${CONSOLE_PATH}/index.html';
  return event.request;
}`;

export class ConsoleSite extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly logBucket: s3.Bucket;
  public readonly distribution: cloudfront.Distribution;
  public readonly deployment: s3deploy.BucketDeployment;
  /** https://<distribution>/console/ */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    const accessLogDays = props.accessLogDays ?? 90;
    if (!Number.isInteger(accessLogDays) || accessLogDays < 1) throw new Error(`${id}: accessLogDays must be a positive integer`);

    // CloudFront standard logs are written with ACLs, so this bucket keeps object ownership with ACLs
    this.logBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(accessLogDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = new s3.Bucket(this, 'Files', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 's3/',
      // the files are a build output: nothing to keep when the stack goes
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'gpupool console: the CSP and headers the local gateway sends too (lib/console/security-headers.ts)',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: CONSOLE_CSP, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
    });
    const router = new cloudfront.Function(this, 'Router', {
      code: cloudfront.FunctionCode.fromInline(ROUTER_CODE),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      comment: 'gpupool console: / and /console to /console/, /console/ to its index.html',
    });

    const apiDomain = `${props.api.restApiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'gpupool web console and API',
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        functionAssociations: [{ function: router, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        // the API, uncached, with every header but Host (x-api-key, Idempotency-Key) and the query string
        '/v1/*': {
          origin: new origins.HttpOrigin(apiDomain, { originPath: `/${props.apiStageName}`, protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY }),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        },
      },
    });

    this.deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      sources: [props.source ?? consoleBuild()],
      destinationBucket: this.bucket,
      destinationKeyPrefix: `${CONSOLE_PATH.slice(1)}/`,
      // index.html changes with every build; the hashed assets never do
      distribution: this.distribution,
      distributionPaths: [`${CONSOLE_PATH}/`, `${CONSOLE_PATH}/index.html`],
      prune: true,
      // browsers revalidate (ETag) rather than guess: a new deploy shows at once, and the files are small
      cacheControl: [s3deploy.CacheControl.noCache()],
      memoryLimit: 256,
      logGroup: new logs.LogGroup(this, 'DeployLogs', { retention: retentionDays(props.logRetentionDays), removalPolicy: RemovalPolicy.DESTROY }),
    });

    this.url = `https://${this.distribution.distributionDomainName}${CONSOLE_PATH}/`;
    acknowledgeConsoleFindings(this, this.bucket);
  }
}
