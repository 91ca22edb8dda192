// The user data a burst instance boots with: it fetches the API's install script and runs it with a
// one-time registration token, then starts the agent. The settings sit in one block of shell
// assignments so the local stack's fake EC2 (lib/local/fake-ec2.ts) can read them back and start a real
// agent process with exactly what an instance would get.
const SETTINGS_BEGIN = '# --- gpupool settings ---';
const SETTINGS_END = '# --- end gpupool settings ---';

export interface UserDataSettings {
  GPUPOOL_API_URL: string;
  /** the one-time registration token: single use, expires (docs/burst.md) */
  GPUPOOL_PROVIDER_KEY: string;
  /** burst-<launchId>: links the node to its launch record */
  GPUPOOL_NODE_NAME: string;
  GPUPOOL_REGION: string;
  GPUPOOL_PRICE_PER_GPU_HOUR: string;
  GPUPOOL_PROBE_PORT: string;
  /** labels as key=value,…: gpupool.burst, ec2.instanceType */
  GPUPOOL_LABELS: string;
  /** the agent watches instance metadata for a spot interruption notice and drains */
  GPUPOOL_SPOT_WATCH: '1';
}

// values are single-quoted for bash; none of ours contains a quote, but never trust that
const quote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;

export function renderUserData(s: UserDataSettings): string {
  const lines = Object.entries(s).map(([k, v]) => `export ${k}=${quote(v)}`);
  return [
    '#!/bin/bash',
    '# gpupool burst instance: install the agent and join the pool (docs/burst.md)',
    'set -euo pipefail',
    SETTINGS_BEGIN,
    ...lines,
    SETTINGS_END,
    // the token must not linger in the environment of later boots' processes: install.sh copies it to a 0600 file
    'curl -fsS --retry 10 --retry-connrefused "$GPUPOOL_API_URL/install.sh" -o /root/gpupool-install.sh',
    // --no-systemd: install.sh would wait for ONLINE with the provider key, which the registration spends
    'bash /root/gpupool-install.sh --install-deps --no-systemd --runtime docker \\',
    '  --api-url "$GPUPOOL_API_URL" --provider-key "$GPUPOOL_PROVIDER_KEY" --name "$GPUPOOL_NODE_NAME" \\',
    '  --region "$GPUPOOL_REGION" --price "$GPUPOOL_PRICE_PER_GPU_HOUR" --probe-port "$GPUPOOL_PROBE_PORT"',
    `printf 'GPUPOOL_LABELS=%s\\nGPUPOOL_SPOT_WATCH=1\\n' "$GPUPOOL_LABELS" >> /etc/gpupool/agent.env`,
    'systemctl daemon-reload && systemctl enable --now gpupool-agent.service',
    '',
  ].join('\n');
}

/** Reads the settings block back (the fake EC2 of the local stack; tests). */
export function parseUserData(script: string): Record<string, string> {
  const start = script.indexOf(SETTINGS_BEGIN);
  const end = script.indexOf(SETTINGS_END);
  if (start < 0 || end < start) throw new Error('not gpupool burst user data');
  const out: Record<string, string> = {};
  for (const line of script.slice(start + SETTINGS_BEGIN.length, end).split('\n')) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replaceAll(`'\\''`, "'");
  }
  return out;
}
