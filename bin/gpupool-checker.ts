// gpupool-checker: a third-party checker of the open checker network (docs/checkers.md, Running a checker).
// `npm run checker` in a checkout; configuration from the environment (GPUPOOL_API_URL, GPUPOOL_CHECKER_KEY).
import { main } from '../checker-client/client';

process.exitCode = await main();
