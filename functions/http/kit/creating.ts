// The creating POSTs: they honour an Idempotency-Key (idempotency.ts). The router applies it to these and
// the OpenAPI document lists the header on them, from this one list.
export const CREATING: ReadonlySet<string> = new Set(['POST /v1/accounts', 'POST /v1/accounts/{id}/keys', 'POST /v1/accounts/{id}/credits', 'POST /v1/jobs', 'POST /v1/nodes', 'POST /v1/services']);
