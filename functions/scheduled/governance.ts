// The governance schedule: closes proposals whose voting window ended and enacts passed ones whose delay
// ran (functions/usecases/governance.ts runGovernance), and closes the checker network's finished epochs
// (functions/usecases/checker-epoch.ts: verdicts by quorum, checkers' scores, rewards). Every write is
// conditional: overlapping or repeated runs change each proposal and each epoch once.
import { logger } from '../observability/logger';
import { observed } from '../observability/invocation';
import { runNetworkEpochs } from '../usecases/checker-epoch';
import { runGovernance } from '../usecases/governance';
import { lambdaRoot, type DepsRoot } from '../wiring/lambda-root';

export const governanceHandler = (root: DepsRoot) =>
  observed(() => root().metrics, async () => {
    const r = await runGovernance(root());
    if (r.passed || r.rejected || r.enacted) logger.info('governance', { ...r });
    const epochs = await runNetworkEpochs(root());
    for (const e of epochs.filter((x) => x.nodes)) logger.info('checker network epoch closed', { ...e });
    return { ...r, epochs };
  });

export const handler = governanceHandler(lambdaRoot());
