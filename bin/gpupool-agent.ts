// gpupool-agent: runs on a GPU host, takes work from the pool and runs it. `npm run agent` in a checkout;
// configuration comes from the environment (see agent/config.ts and docs).
import { main } from '../agent/main';

void main();
