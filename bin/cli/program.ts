// The command tree. Only commander is loaded up front: each action imports its command module when it
// runs, so `gpupool --help` and usage errors stay fast.
import { Command, Option } from 'commander';
import type { Ctx } from './context';
import type { Io } from './io';
import { CLI_VERSION } from './version';

type Loader = () => Promise<Record<string, unknown>>;
const MODULES = {
  login: () => import('./commands/login'),
  offers: () => import('./commands/offers'),
  run: () => import('./commands/run'),
  jobs: () => import('./commands/jobs'),
  nodes: () => import('./commands/nodes'),
  balance: () => import('./commands/balance'),
  statement: () => import('./commands/statement'),
  stake: () => import('./commands/stake'),
  credits: () => import('./commands/credits'),
  audit: () => import('./commands/audit'),
  keys: () => import('./commands/keys'),
  accounts: () => import('./commands/accounts'),
  outputs: () => import('./commands/outputs'),
  files: () => import('./commands/files'),
  services: () => import('./commands/services'),
} satisfies Record<string, Loader>;

/** A command implementation: positional arguments and options in, an exit code (or nothing for 0) out. */
export type CommandFn = (ctx: Ctx, args: string[], opts: Record<string, any>) => Promise<number | void>;

export interface RunState {
  exitCode: number;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export function buildProgram(io: Io, state: RunState, version = CLI_VERSION): Command {
  const program = new Command('gpupool');
  program
    .description('Command-line client of the gpupool API: find GPUs, run jobs, manage nodes, keys and credits.')
    .version(version, '-V, --version')
    .option('--json', 'print the raw API answer as JSON (also after the command)')
    .option('--profile <name>', 'use this saved profile (also after the command)')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .addHelpText(
      'after',
      `
Profiles live in $XDG_CONFIG_HOME/gpupool/config.json (default ~/.config/gpupool/config.json);
GPUPOOL_API_URL, GPUPOOL_API_KEY, GPUPOOL_ACCOUNT_ID and GPUPOOL_PROFILE override them.
Amounts and prices are in credits (1 credit = 1,000,000 micro-credits); --json prints the API's raw answers.

Examples:
  gpupool login --api http://127.0.0.1:8787 --key gp_...
  gpupool offers --gpu H100
  gpupool run --gpus 1 --gpu-model A100 -- python train.py --epochs 3
  gpupool jobs logs -f JOB_ID
  gpupool serve --name chat --port 8000 --min 1 --max 4 --image vllm/vllm-openai -- --model m
  gpupool credits mint ACCOUNT_ID 100     (admins: consumers need credits before jobs are placed)`,
    );

  const common = (cmd: Command) =>
    cmd.option('--json', 'print the raw API answer as JSON').option('--profile <name>', 'use this saved profile');

  /** the action: load the module, build the context, run the function, keep its exit code */
  const act =
    (mod: keyof typeof MODULES, fn: string) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const opts = cmd.optsWithGlobals();
      const positional = (args.slice(0, -2) as (string | string[])[]).flat();
      const [{ Ctx }, m] = await Promise.all([import('./context'), MODULES[mod]()]);
      const ctx = new Ctx(io, { json: opts.json, profile: opts.profile });
      const code = await ((m as unknown as Record<string, CommandFn>)[fn])(ctx, positional, opts);
      state.exitCode = typeof code === 'number' ? code : 0;
    };

  common(
    program
      .command('login')
      .description('check an API key against the API and save it as a profile')
      .option('--api <url>', 'API URL, e.g. http://127.0.0.1:8787 (default: $GPUPOOL_API_URL or the saved one)')
      .option('--key <key>', 'API key (gp_...); "-" reads it from stdin (default: $GPUPOOL_API_KEY)')
      .option('--account <id>', 'the key\'s account id, kept for `gpupool keys`'),
  ).action(act('login', 'login'));

  common(
    program
      .command('offers')
      .description('free capacity by GPU model, VRAM and region, with prices')
      .option('--gpu <model>', 'GPU model, e.g. H100')
      .option('--gpus <n>', 'at least this many free GPUs')
      .option('--region <region>', 'region, e.g. eu-west')
      .option('--max-price <credits>', 'at most this price, in credits per GPU-hour'),
  ).action(act('offers', 'offers'));

  common(
    program
      .command('run')
      .description('submit a job and follow it: live status, its output, its exit code')
      .usage('[options] -- COMMAND [ARGS...]')
      .argument('[command...]', 'the command to run and its arguments (after --)')
      .option('--gpus <n>', 'GPUs', '1')
      .option('--gpu-model <model>', 'acceptable GPU model (repeatable, or comma-separated)', collect)
      .option('--min-vram <gb>', 'minimum VRAM per GPU, in GB')
      .option('--region <region>', 'acceptable region (repeatable, or comma-separated)', collect)
      .option('--max-price <credits>', 'highest price, in credits per GPU-hour')
      .option('--image <image>', 'container image (docker runtime)')
      .option('-e, --env <K=V>', 'environment variable (repeatable); a bare K copies it from your environment', collect)
      .option('--max-duration <duration>', 'time limit: seconds, or 90s, 30m, 2h, 1h30m')
      .option('--max-attempts <n>', 'placements to try when nodes fail')
      .option('--priority <n>', 'queue priority, -100..100')
      .option('--name <name>', 'a name for the job')
      .option('--array <0-N>', 'a job array: N+1 jobs, each told its index in $GPUPOOL_ARRAY_INDEX (ranges start at 0); implies --detach')
      .option('--after <job>', 'start only after these jobs succeeded (repeatable, or comma-separated); fails if one of them fails', collect)
      .option('--input <local:remote>', 'upload a file or directory and place it under $GPUPOOL_INPUT_DIR (repeatable), e.g. ./data:data/', collect)
      .option('--output <dir>', 'when the job ends, download its outputs ($GPUPOOL_OUTPUT_DIR) into this directory')
      .option('--checkpoint-every <seconds>', 'save $GPUPOOL_CHECKPOINT_DIR this often; a re-placed job resumes from it')
      .option('-d, --detach', 'print the job id and return at once')
      .addOption(new Option('--poll-interval <ms>', 'ms between status polls').default('500').hideHelp())
      .passThroughOptions(),
  ).action(act('run', 'run'));

  common(
    program
      .command('outputs')
      .description("the files a job left in $GPUPOOL_OUTPUT_DIR; with --to, downloaded and checked")
      .argument('<id>')
      .option('--to <dir>', 'download them into this directory'),
  ).action(act('outputs', 'outputs'));

  const files = program.command('files').description('files you uploaded as job inputs (gpupool run --input)');
  common(files.command('ls').alias('list').description('list your files, newest first').option('--limit <n>', 'at most this many').option('--cursor <cursor>', 'the next page')).action(act('files', 'ls'));
  common(files.command('get').description('one file, with a download link once uploaded').argument('<id>')).action(act('files', 'get'));
  common(files.command('rm').alias('delete').description('delete files (refused while a job that has not ended names one)').argument('<id...>')).action(act('files', 'rm'));

  const replicaOptions = (cmd: Command) =>
    cmd
      .option('--replicas <n>', 'a fixed number of replicas (min = max)')
      .option('--min <n>', 'fewest replicas (the autoscaler never goes below)')
      .option('--max <n>', 'most replicas (the autoscaler never goes above)');
  common(
    replicaOptions(
      program
        .command('serve')
        .description('run a long-lived endpoint on N replicas behind one URL, healed when a host dies (docs/services.md)')
        .usage('[options] -- COMMAND [ARGS...]')
        .argument('[command...]', 'the server command and its arguments (after --); it must listen on $PORT')
        .requiredOption('--name <name>', 'the service\'s name')
        .requiredOption('--port <port>', 'the port your server listens on (containers); process nodes set $PORT')
        .option('--image <image>', 'container image (docker runtime)')
        .option('-e, --env <K=V>', 'environment variable (repeatable); a bare K copies it from your environment', collect)
        .option('--gpus <n>', 'GPUs per replica', '1')
        .option('--gpu-model <model>', 'acceptable GPU model (repeatable, or comma-separated)', collect)
        .option('--min-vram <gb>', 'minimum VRAM per GPU, in GB')
        .option('--region <region>', 'acceptable region (repeatable, or comma-separated)', collect)
        .option('--max-price <credits>', 'highest price, in credits per GPU-hour')
        .option('--readiness <path>', 'the path a replica must answer 2xx on before it takes traffic', '/')
        .option('--target-inflight <n>', 'requests in flight per replica the autoscaler aims at'),
    )
      .option('-d, --detach', 'print the service id and return at once')
      .option('--wait-seconds <s>', 'how long to wait for the replicas to be ready', '600')
      .addOption(new Option('--poll-interval <ms>', 'ms between status polls').default('500').hideHelp())
      .passThroughOptions(),
  ).action(act('services', 'serve'));

  const services = program.command('services').description('your services: list, show, scale, update, logs, remove');
  common(services.command('ls').alias('list').description('list services').option('--limit <n>', 'at most this many').option('--cursor <cursor>', 'the next page')).action(act('services', 'ls'));
  common(services.command('get').description('one service with its replicas').argument('<id>')).action(act('services', 'get'));
  common(replicaOptions(services.command('scale').description('change how many replicas a service keeps').argument('<id>'))).action(act('services', 'scale'));
  common(
    replicaOptions(
      services
        .command('update')
        .description('change image or env (a rolling update: each new replica is ready before an old one stops)')
        .argument('<id>')
        .option('--image <image>', 'the new image')
        .option('-e, --env <K=V>', 'the new environment (repeatable): replaces the old one', collect)
        .option('--target-inflight <n>', 'requests in flight per replica the autoscaler aims at'),
    ),
  ).action(act('services', 'update'));
  common(services.command('logs').description("the output of a service's replicas").argument('<id>').option('--replica <id>', 'only this replica')).action(act('services', 'logs'));
  common(services.command('rm').alias('delete').description('stop every replica and remove the service').argument('<id>')).action(act('services', 'rm'));

  const jobs = program.command('jobs').description('your jobs: list, show, logs, cancel');
  common(
    jobs
      .command('ls')
      .alias('list')
      .description('list jobs, newest first (with --array: that array, in index order)')
      .option('--limit <n>', 'at most this many')
      .option('--cursor <cursor>', 'the next page, from a previous answer')
      .option('--array <arrayId>', "only this array's jobs"),
  ).action(act('jobs', 'ls'));
  common(jobs.command('get').description('one job with its attempts').argument('<id>')).action(act('jobs', 'get'));
  common(jobs.command('logs').description("a job's output").argument('<id>').option('-f, --follow', 'keep printing until the job ends')).action(act('jobs', 'logs'));
  common(jobs.command('cancel').description('cancel a job').argument('<id>')).action(act('jobs', 'cancel'));

  const nodes = program.command('nodes').description('your nodes (providers) or all nodes (admins)');
  common(nodes.command('ls').alias('list').description('list nodes').option('--limit <n>', 'at most this many').option('--cursor <cursor>', 'the next page')).action(act('nodes', 'ls'));
  common(nodes.command('get').description('one node').argument('<id>')).action(act('nodes', 'get'));
  common(nodes.command('drain').description('take no new work on a node').argument('<id>')).action(act('nodes', 'drain'));
  common(nodes.command('undrain').description('let a drained node take work again').argument('<id>')).action(act('nodes', 'undrain'));
  common(nodes.command('scores').description("a node's checker results over time").argument('<id>')).action(act('nodes', 'scores'));

  common(program.command('balance').description('your credits: available, held in escrow, staked, unbonding')).action(act('balance', 'balance'));
  common(
    program
      .command('statement')
      .description('ledger entries, newest first, with the balances after each')
      .option('--account <id>', 'the account (default: the profile\'s, else the key\'s own)')
      .option('--limit <n>', 'at most this many entries (1-100)')
      .option('--cursor <cursor>', 'the next page, from a previous answer'),
  ).action(act('statement', 'statement'));
  common(program.command('stake').description('lock credits as stake so your nodes can take work (providers)').argument('<amount>', 'credits, e.g. 100 or 12.5')).action(act('stake', 'stake'));
  common(program.command('unstake').description('release free stake; it becomes available after the cooldown (providers)').argument('<amount>', 'credits, e.g. 100 or 12.5')).action(act('stake', 'unstake'));
  const credits = program.command('credits').description('credits (admins)');
  common(
    credits
      .command('mint')
      .description('mint credits to an account: the only way credits come into being')
      .argument('<account>', 'the account id')
      .argument('<amount>', 'credits, e.g. 100 or 12.5 (at most 6 decimals)')
      .option('--memo <text>', 'a note for the ledger'),
  ).action(act('credits', 'mint'));
  common(program.command('audit').description('recompute every balance from the ledger entries; exit 1 if they disagree (admins)')).action(act('audit', 'audit'));

  const keys = program.command('keys').description('API keys of an account');
  const accountOpt = (cmd: Command) => cmd.option('--account <id>', 'the account (default: the profile\'s account)');
  common(accountOpt(keys.command('create').description('issue another API key (shown once)'))).action(act('keys', 'create'));
  common(accountOpt(keys.command('ls').alias('list').description('list keys'))).action(act('keys', 'ls'));
  common(keys.command('revoke').description('revoke a key').argument('<keyId>')).action(act('keys', 'revoke'));

  const accounts = program.command('accounts').description('accounts (admins)');
  common(
    accounts
      .command('create')
      .description('create an account and its first API key (shown once)')
      .requiredOption('--name <name>', 'account name')
      .addOption(new Option('--role <role>', 'role').choices(['consumer', 'provider', 'admin']).makeOptionMandatory()),
  ).action(act('accounts', 'create'));
  common(accounts.command('get').description('an account with its balance').argument('<id>')).action(act('accounts', 'get'));
  common(
    accounts
      .command('credit')
      .description('mint credits to an account')
      .argument('<id>')
      .requiredOption('--amount <credits>', 'credits to add, e.g. 100 or 2.5')
      .option('--memo <text>', 'a note for the ledger'),
  ).action(act('accounts', 'credit'));

  return program;
}
