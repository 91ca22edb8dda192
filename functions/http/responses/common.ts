// Building blocks of the response schemas (docs/api.md, The schemas): what every answer shares.
// Response objects are z.object: the OpenAPI document lists their fields, and the answer test
// (test/api/response-schemas.test.ts) fails on a field an answer carries that its schema does not name.
import * as z from 'zod';

export const Id = z.string();
/** epoch milliseconds */
export const Millis = z.number();
export const Micro = z.number().int().describe('micro-credits (1 credit = 1,000,000)');
export const Nullable = <T extends z.ZodType>(s: T) => s.nullable();
/** a list page: `nextCursor` is null on the last page */
export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
/** a list that is always whole (no cursor) */
export const list = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });
export const Labels = z.record(z.string(), z.string());
