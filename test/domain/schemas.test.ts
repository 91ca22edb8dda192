import { describe, expect, it } from 'vitest';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { formatApiKey, hashSecret, parseApiKey, secretMatches } from '../../functions/domain/api-key';

const ok = { command: ['python', 'train.py'], resources: { gpus: 2 } };

describe('job submission schema', () => {
  it('fills defaults', () => {
    expect(SubmitJobSchema.parse(ok)).toMatchObject({ env: {}, maxDurationSeconds: 3600, maxAttempts: 3, priority: 0, resources: { gpus: 2, nodes: 1 } });
  });
  it.each([
    ['unknown field', { ...ok, extra: 1 }],
    ['zero gpus', { ...ok, resources: { gpus: 0 } }],
    ['fractional gpus', { ...ok, resources: { gpus: 1.5 } }],
    ['empty command', { ...ok, command: [] }],
    ['reserved env', { ...ok, env: { GPUPOOL_RANK: '1' } }],
    ['bad env name', { ...ok, env: { 'A B': '1' } }],
    ['huge duration', { ...ok, maxDurationSeconds: 1e12 }],
    ['negative price', { ...ok, maxPricePerGpuHour: -1 }],
    // a gang's placement and its end must each fit one DynamoDB transaction (docs/scheduling.md)
    ['gang above the bound', { ...ok, resources: { gpus: 1, nodes: 13 } }],
    ['string gpus', { ...ok, resources: { gpus: '2' } }],
  ])('rejects %s', (_n, body) => {
    expect(SubmitJobSchema.safeParse(body).success).toBe(false);
  });
  it('accepts gangs of 2 to 12 nodes', () => {
    expect(SubmitJobSchema.parse({ ...ok, resources: { gpus: 1, nodes: 2 } }).resources.nodes).toBe(2);
    expect(SubmitJobSchema.parse({ ...ok, resources: { gpus: 8, nodes: 12 } }).resources.nodes).toBe(12);
  });
});

describe('api keys', () => {
  it('formats, parses and verifies keys', () => {
    const key = formatApiKey('abcdef0123456789', 'A'.repeat(32));
    expect(parseApiKey(key)).toEqual({ keyId: 'abcdef0123456789', secret: 'A'.repeat(32) });
    expect(secretMatches('A'.repeat(32), hashSecret('A'.repeat(32)))).toBe(true);
    expect(secretMatches('B'.repeat(32), hashSecret('A'.repeat(32)))).toBe(false);
    expect(parseApiKey('gp_short_x')).toBeUndefined();
  });
});
