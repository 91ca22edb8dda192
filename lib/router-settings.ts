// The routing tier's deploy settings: cdk.json's `gpupool:servicesRouter` context (docs/services.md, AWS).
// `true` or `{"enabled": true, ...}` deploys it; absent, `false` or `{"enabled": false}` does not.
import * as z from 'zod';

export const RouterSettingsSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** an ACM certificate (same region) for the ALB's HTTPS listener; it should cover `*.<servicesDomain>`. Without one: HTTP only */
  certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/).optional(),
  /** services answer at `<serviceId>.<servicesDomain>` (and at `/s/<serviceId>/` on any name of the ALB) */
  servicesDomain: z.string().regex(/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/).optional(),
  /** a Route 53 hosted zone that holds servicesDomain: the stack adds `*.<servicesDomain>` (and the name itself) as aliases of the ALB */
  hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/).optional(),
  hostedZoneName: z.string().optional(),
  /** where the tasks run, `lat,lon` (the region's): replicas nearest to it are tried first */
  location: z.string().regex(/^-?\d+(\.\d+)?,-?\d+(\.\d+)?$/).optional(),
  /** tasks, spread over two availability zones. @default 2 */
  desiredCount: z.number().int().min(1).max(20).default(2),
});
export type RouterSettings = z.infer<typeof RouterSettingsSchema>;

export function parseRouterSettings(raw: unknown): RouterSettings {
  if (raw === undefined || raw === null || raw === false || raw === 'false') return RouterSettingsSchema.parse({});
  if (raw === true || raw === 'true') return RouterSettingsSchema.parse({ enabled: true });
  const r = RouterSettingsSchema.safeParse(typeof raw === 'string' ? JSON.parse(raw) : raw);
  if (!r.success) throw new Error(`gpupool:servicesRouter: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (r.data.hostedZoneId && (!r.data.hostedZoneName || !r.data.servicesDomain)) throw new Error('gpupool:servicesRouter: hostedZoneId needs hostedZoneName and servicesDomain');
  return r.data;
}

/**
 * The address a service's url starts with, known at synth time only when the operator names a domain:
 * `https://<servicesDomain>` with a certificate, `http://` without. Without a domain the ALB's name is only
 * known after the router stack deploys (its output `BaseUrl`), so services show no url ('').
 */
export function servicesBaseUrl(s: RouterSettings): string {
  if (!s.enabled || !s.servicesDomain) return '';
  return `${s.certificateArn ? 'https' : 'http'}://${s.servicesDomain}`;
}
