// The AWS services the deployed bundles call besides DynamoDB and SQS, on one loopback HTTP server that the
// bundles reach through the SDK's endpoint variables (AWS_ENDPOINT_URL, which every client falls back to):
// Secrets Manager's GetSecretValue (the template's secrets), KMS data keys (GenerateDataKey, Decrypt), STS AssumeRole (agent queue credentials), and
// EC2 RunInstances / DescribeInstances / TerminateInstances plus SSM GetParameter in front of an Ec2Port
// (the local stack's FakeEc2), and API Gateway's API keys and usage-plan keys (the nodes function's own
// usage key per node) kept in memory. Any other call is answered with an error and recorded in `unmapped`, so a
// function that needs a service the local stack does not give fails the test instead of reaching AWS.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ec2Port, LaunchRequest } from '../../functions/store/ec2-fleet';
import { BURST_TAG, LAUNCH_TAG } from '../../functions/store/ec2-fleet';
import type { LocalSecret } from './cfn-local';

export interface FakeAws {
  endpoint: string;
  /** calls no fake serves, as `service.Action` */
  unmapped: string[];
  /** every call, as `service.Action` */
  calls: string[];
  /** the API keys API Gateway holds now, with the names of the usage plans that hold each */
  usageKeys(): { id: string; name: string; value: string; plans: string[] }[];
  stop(): Promise<void>;
}

/** The AMI id the fake SSM parameter holds (AwsEc2Fleet accepts ami-<hex> only). */
export const FAKE_AMI = 'ami-0123456789abcdef0';

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const keyIdOf = (k: unknown) => String(k).split('/').pop()!;
const keyArn = (k: unknown) => `arn:aws:kms:us-east-1:000000000000:key/${keyIdOf(k)}`;

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `Prefix.1.Key`, `Prefix.2.Key`, ... of a query request, as a list of the numbered groups' fields. */
function numbered(q: URLSearchParams, prefix: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const [k, v] of q) {
    const m = k.match(new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)(?:\\.(.+))?$`));
    if (!m) continue;
    const i = Number(m[1]) - 1;
    (out[i] ??= {})[m[2] ?? ''] = v;
  }
  return out.filter(Boolean);
}

export async function startFakeAws(o: { secrets: Map<string, LocalSecret>; ec2?: Ec2Port; usagePlanNames?: string[] }): Promise<FakeAws> {
  const unmapped: string[] = [];
  const calls: string[] = [];
  // API Gateway: its usage plans by name, the API keys made, and which plan holds which key
  const plans = (o.usagePlanNames ?? []).map((name, i) => ({ id: `plan${i}`, name }));
  const apiKeys = new Map<string, { id: string; name: string; value: string }>();
  const planKeys = new Set<string>();

  const json = (status: number, body: unknown) => ({ status, type: 'application/x-amz-json-1.1', body: JSON.stringify(body) });
  const xml = (status: number, body: string) => ({ status, type: 'text/xml', body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` });
  const queryError = (code: string, message: string) =>
    xml(400, `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
  const ec2Error = (code: string, message: string) =>
    xml(400, `<Response><Errors><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`);

  async function jsonCall(target: string, body: Record<string, any>) {
    if (target === 'secretsmanager.GetSecretValue') {
      const s = [...o.secrets.values()].find((x) => x.arn === body.SecretId || x.arn.split(':')[6] === body.SecretId);
      if (!s) return json(400, { __type: 'ResourceNotFoundException', message: `Secrets Manager can't find the specified secret ${body.SecretId}` });
      return json(200, { ARN: s.arn, Name: s.arn.split(':')[6], SecretString: s.value, VersionId: 'local', VersionStages: ['AWSCURRENT'], CreatedDate: 0 });
    }
    // KMS: a data key is 'wrapped' as JSON naming its key and context, so a Decrypt under another key or
    // context fails as KMS's would; nothing here is secret (test data only)
    if (target === 'TrentService.GenerateDataKey' || target === 'TrentService.Encrypt') {
      const plaintext = target === 'TrentService.Encrypt' ? String(body.Plaintext) : randomBytes(body.NumberOfBytes ?? 32).toString('base64');
      const blob = Buffer.from(JSON.stringify({ k: keyIdOf(body.KeyId), c: body.EncryptionContext ?? {}, p: plaintext })).toString('base64');
      return json(200, { KeyId: keyArn(body.KeyId), CiphertextBlob: blob, ...(target === 'TrentService.GenerateDataKey' ? { Plaintext: plaintext } : {}) });
    }
    if (target === 'TrentService.Decrypt') {
      let w: { k: string; c: Record<string, string>; p: string } | undefined;
      try {
        w = JSON.parse(Buffer.from(String(body.CiphertextBlob), 'base64').toString('utf8'));
      } catch {
        w = undefined;
      }
      const same = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
      if (!w || (body.KeyId && keyIdOf(body.KeyId) !== w.k) || !same(w.c, body.EncryptionContext ?? {})) return json(400, { __type: 'InvalidCiphertextException', message: 'invalid ciphertext' });
      return json(200, { KeyId: keyArn(w.k), Plaintext: w.p, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    }
    if (target === 'AmazonSSM.GetParameter' && o.ec2) {
      return json(200, { Parameter: { Name: body.Name, Type: 'String', Value: FAKE_AMI, Version: 1, ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${body.Name}` } });
    }
    return undefined;
  }

  /** API Gateway's REST API (restJson): the calls functions/store/api-gateway-usage-keys.ts makes. */
  function apigwCall(method: string, url: URL, body: Record<string, any>) {
    const rest = (status: number, b: unknown) => ({ status, type: 'application/json', body: JSON.stringify(b) });
    const conflict = (message: string) => ({ status: 409, type: 'application/json', body: JSON.stringify({ message }), headers: { 'x-amzn-errortype': 'ConflictException' } });
    const p = url.pathname;
    if (method === 'GET' && p === '/usageplans') return { name: 'apigateway.GetUsagePlans', answer: rest(200, { item: plans }) };
    if (method === 'POST' && p === '/apikeys') {
      if ([...apiKeys.values()].some((k) => k.value === body.value)) return { name: 'apigateway.CreateApiKey', answer: conflict('API Key already exists') };
      const key = { id: `key${apiKeys.size}`, name: String(body.name), value: String(body.value) };
      apiKeys.set(key.id, key);
      return { name: 'apigateway.CreateApiKey', answer: rest(201, { id: key.id, name: key.name, enabled: true }) };
    }
    if (method === 'GET' && p === '/apikeys') {
      const q = url.searchParams.get('name') ?? '';
      return { name: 'apigateway.GetApiKeys', answer: rest(200, { item: [...apiKeys.values()].filter((k) => k.name.startsWith(q)).map(({ id, name }) => ({ id, name })) }) };
    }
    const planKey = p.match(/^\/usageplans\/([^/]+)\/keys$/);
    if (method === 'POST' && planKey && plans.some((x) => x.id === planKey[1]) && apiKeys.has(body.keyId)) {
      const k = `${planKey[1]}/${body.keyId}`;
      if (planKeys.has(k)) return { name: 'apigateway.CreateUsagePlanKey', answer: conflict('already in the plan') };
      planKeys.add(k);
      return { name: 'apigateway.CreateUsagePlanKey', answer: rest(201, { id: body.keyId, type: 'API_KEY' }) };
    }
    const one = p.match(/^\/apikeys\/([^/]+)$/);
    if (method === 'DELETE' && one && apiKeys.delete(one[1])) {
      for (const k of [...planKeys]) if (k.endsWith(`/${one[1]}`)) planKeys.delete(k);
      return { name: 'apigateway.DeleteApiKey', answer: { status: 202, type: 'application/json', body: '' } };
    }
    return undefined;
  }

  async function stsCall(action: string, q: URLSearchParams) {
    if (action !== 'AssumeRole') return undefined;
    const expiration = new Date(Date.now() + Number(q.get('DurationSeconds') ?? 3600) * 1000).toISOString();
    return xml(
      200,
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIALOCAL${randomUUID().slice(0, 8).toUpperCase()}</AccessKeyId><SecretAccessKey>local</SecretAccessKey><SessionToken>local-${randomUUID()}</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROALOCAL:${xmlEscape(q.get('RoleSessionName') ?? 'local')}</AssumedRoleId><Arn>${xmlEscape(q.get('RoleArn') ?? '')}/${xmlEscape(q.get('RoleSessionName') ?? '')}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  }

  async function ec2Call(action: string, q: URLSearchParams) {
    const ec2 = o.ec2;
    if (!ec2) return undefined;
    const ns = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"';
    if (action === 'RunInstances') {
      const tags = numbered(q, 'TagSpecification').flatMap((spec) => {
        const sub = new URLSearchParams(spec);
        return spec.ResourceType === 'instance' ? numbered(sub, 'Tag') : [];
      });
      const tag = (key: string) => tags.find((t) => t.Key === key)?.Value ?? '';
      const req: LaunchRequest = {
        clientToken: q.get('ClientToken') ?? '',
        launchId: tag(LAUNCH_TAG),
        stage: tag(BURST_TAG),
        instanceType: q.get('InstanceType') ?? '',
        market: q.get('InstanceMarketOptions.MarketType') === 'spot' ? 'spot' : 'on-demand',
        imageId: q.get('ImageId') ?? '',
        userData: Buffer.from(q.get('UserData') ?? '', 'base64').toString('utf8'),
        subnetId: q.get('SubnetId') ?? undefined,
        securityGroupIds: numbered(q, 'SecurityGroupId').map((g) => g['']),
        instanceProfileArn: q.get('IamInstanceProfile.Arn') ?? '',
        rootVolumeGb: Number(q.get('BlockDeviceMapping.1.Ebs.VolumeSize') ?? 0),
      };
      try {
        const { instanceId } = await ec2.run(req);
        return xml(200, `<RunInstancesResponse ${ns}><requestId>${randomUUID()}</requestId><reservationId>r-local</reservationId><ownerId>000000000000</ownerId><instancesSet><item><instanceId>${instanceId}</instanceId><instanceType>${xmlEscape(req.instanceType)}</instanceType><instanceState><code>0</code><name>pending</name></instanceState></item></instancesSet></RunInstancesResponse>`);
      } catch (e) {
        return ec2Error((e as Error).name, (e as Error).message);
      }
    }
    if (action === 'DescribeInstances') {
      const filter = numbered(q, 'Filter').find((f) => f.Name === `tag:${BURST_TAG}`);
      const items = filter ? await ec2.list(filter['Value.1']) : [];
      const item = (i: (typeof items)[number]) =>
        `<item><instanceId>${i.instanceId}</instanceId><instanceState><code>16</code><name>${i.state}</name></instanceState><tagSet>${i.launchId ? `<item><key>${LAUNCH_TAG}</key><value>${xmlEscape(i.launchId)}</value></item>` : ''}</tagSet></item>`;
      const reservations = items.map((i) => `<item><reservationId>r-local</reservationId><ownerId>000000000000</ownerId><instancesSet>${item(i)}</instancesSet></item>`).join('');
      return xml(200, `<DescribeInstancesResponse ${ns}><requestId>${randomUUID()}</requestId><reservationSet>${reservations}</reservationSet></DescribeInstancesResponse>`);
    }
    if (action === 'TerminateInstances') {
      const ids = numbered(q, 'InstanceId').map((x) => x['']);
      await ec2.terminate(ids);
      const items = ids.map((id) => `<item><instanceId>${id}</instanceId><currentState><code>32</code><name>shutting-down</name></currentState></item>`).join('');
      return xml(200, `<TerminateInstancesResponse ${ns}><requestId>${randomUUID()}</requestId><instancesSet>${items}</instancesSet></TerminateInstancesResponse>`);
    }
    return undefined;
  }

  const server = createServer((req, res) => {
    void (async () => {
      const text = await read(req);
      const target = req.headers['x-amz-target'];
      let answer: { status: number; type: string; body: string; headers?: Record<string, string> } | undefined;
      let name: string;
      const url = new URL(req.url ?? '/', 'http://local');
      const restApi = /^\/(apikeys|usageplans)(\/|$)/.test(url.pathname) ? apigwCall(req.method ?? 'GET', url, text ? JSON.parse(text) : {}) : undefined;
      if (restApi) {
        name = restApi.name;
        answer = restApi.answer;
      } else if (typeof target === 'string') {
        name = target;
        answer = await jsonCall(target, text ? JSON.parse(text) : {});
        if (!answer) unmapped.push(name);
        answer ??= json(400, { __type: 'UnknownOperationException', message: `the local stack serves no ${target}` });
      } else {
        const q = new URLSearchParams(text || (req.url ?? '').split('?')[1] || '');
        const action = q.get('Action') ?? '?';
        const version = q.get('Version');
        const service = version === '2011-06-15' ? 'sts' : version === '2016-11-15' ? 'ec2' : `${req.headers.host} ${req.method} ${req.url} ${version}`;
        name = `${service}.${action}`;
        answer = service === 'sts' ? await stsCall(action, q) : service === 'ec2' ? await ec2Call(action, q) : undefined;
        if (!answer) unmapped.push(name);
        answer ??= service === 'ec2' ? ec2Error('InvalidAction', `the local stack serves no ${name}`) : queryError('InvalidAction', `the local stack serves no ${name}`);
      }
      calls.push(name);
      res.writeHead(answer.status, { 'content-type': answer.type, 'content-length': Buffer.byteLength(answer.body), ...answer.headers });
      res.end(answer.body);
    })().catch((e) => {
      unmapped.push(`error: ${(e as Error).message}`);
      res.writeHead(500).end(String(e));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    unmapped,
    calls,
    usageKeys: () => [...apiKeys.values()].map((k) => ({ ...k, plans: plans.filter((x) => planKeys.has(`${x.id}/${k.id}`)).map((x) => x.name) })),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
