// gpupool-agent: runs on a GPU host, takes work from the pool and runs it. `npm run agent` in a checkout;
// configuration comes from the environment (see agent/config.ts and docs).
import { setFlagsFromString } from 'node:v8';

// The agent idles most of its life next to the jobs it runs: V8 is told to favour memory over speed
// (idle RSS on Node 22 ≈ 75 MB instead of ≈ 88 MB; docs/agent-hosts.md). Set before the agent's modules
// load (hence the dynamic import: a static one would run them first).
setFlagsFromString('--optimize-for-size');
const { main } = await import('../agent/main');
void main();
