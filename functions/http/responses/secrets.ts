// What the secrets group answers: names and versions, never a value.
import * as z from 'zod';
import { list, Millis } from './common';

export const SecretSchema = z.object({ name: z.string(), version: z.number().int(), createdAt: Millis });

export const SECRETS_RESPONSES = {
  'POST /v1/secrets': z.object({ secret: SecretSchema }),
  'GET /v1/secrets': list(SecretSchema),
} as const;
