// cdk.json's context for `npm start` (bin/gpupool-local.ts): it deploys nothing, yet prices, throttles, pays
// and bursts with the settings `cdk deploy` would use. Only bin/ reads cdk.json (bin/app.ts through the CDK
// app's context); what it finds is handed to lib/ as a StageConfig. A missing file (or one without context)
// is no settings.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CDK_JSON = fileURLToPath(new URL('../cdk.json', import.meta.url));

export function cdkJsonContext(file = CDK_JSON): Record<string, unknown> {
  return existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> }).context ?? {}) : {};
}
