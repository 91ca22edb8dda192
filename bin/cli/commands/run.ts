// gpupool run [options] -- CMD ARGS...: POST /v1/jobs, then follow the job to its end and exit with its
// exit code. On a terminal: a live status line, and Ctrl-C asks before cancelling; without one: only the
// job's output and a summary line on stderr, and Ctrl-C cancels at once.
// --json: stdout carries one JSON document (the final {job}, or the 202 answer with --detach); the job's
// output goes to stderr.
import type { Ctx } from '../context';
import { buildJobBody, parseInteger, type RunOptions } from '../run-spec';
import { downloadOutputs, uploadInputs } from '../files';
import { processInterrupts, ttyStatusLine, watchJob, type JobView } from '../watch';

export interface RunCommandOptions extends RunOptions {
  detach?: boolean;
  pollInterval?: string;
  /** LOCAL:REMOTE, uploaded and placed under $GPUPOOL_INPUT_DIR (docs/data.md) */
  input?: string[];
  /** where the job's outputs are downloaded when it ends */
  output?: string;
  checkpointEvery?: string;
}

export async function run(ctx: Ctx, command: string[], o: RunCommandOptions): Promise<number> {
  const body = buildJobBody(command, o, ctx.io.env);
  const pollMs = parseInteger(o.pollInterval, '--poll-interval', 10, 60_000) ?? 500;
  const api = ctx.api();
  const checkpointSeconds = parseInteger(o.checkpointEvery, '--checkpoint-every', 10, 86_400);
  if (checkpointSeconds !== undefined) Object.assign(body, { checkpoint: { intervalSeconds: checkpointSeconds } });
  // inputs go up first: the job names them by the ids the API gives
  if (o.input?.length) Object.assign(body, { inputs: await uploadInputs(ctx, o.input) });

  // the client sends one Idempotency-Key on every try: a retried submit never makes a second job
  const submitted = await api.submitJob(body);
  const job = submitted.job as JobView;
  // an array is many jobs: it is submitted and listed, not followed (follow one with jobs logs -f)
  const array = (submitted as { array?: { id: string; size: number; jobIds: string[] } }).array;
  if (array) {
    if (ctx.json) ctx.printJson(submitted);
    else {
      ctx.out(array.id);
      ctx.note(`Array ${array.id}: ${array.size} jobs (${array.jobIds[0]} … ${array.jobIds[array.jobIds.length - 1]}). List them: gpupool jobs ls --array ${array.id}; cancel them all: gpupool jobs cancel ${array.id}`);
    }
    return 0;
  }

  if (o.detach) {
    if (ctx.json) ctx.printJson(submitted);
    else {
      ctx.out(job.id);
      ctx.note(`Job ${job.id} ${job.status.toLowerCase()}. Follow it: gpupool jobs logs -f ${job.id}`);
    }
    return 0;
  }

  const { stdin, stderr } = ctx.io;
  const tty = Boolean(stderr.isTTY) && !ctx.json;
  const canAsk = tty && Boolean(stdin.isTTY);
  if (tty) ctx.note(`Job ${job.id} submitted; Ctrl-C asks whether to cancel it.`);
  const result = await watchJob({
    api,
    jobId: job.id,
    initial: job,
    pollMs,
    now: ctx.io.now,
    stdout: (t) => (ctx.json ? ctx.err(t) : ctx.out(t)),
    stderr: (t) => ctx.err(t),
    colors: ctx.ce,
    status: tty ? ttyStatusLine(stderr) : undefined,
    interrupts: processInterrupts,
    confirm: canAsk ? (q) => ttyConfirm(stdin, stderr, q) : undefined,
  });
  if (o.output) {
    const items = await downloadOutputs(ctx, job.id, o.output);
    ctx.note(`Downloaded ${items.length} output file(s) to ${o.output}.`);
  }
  if (ctx.json) ctx.printJson({ job: result.job });
  return result.exitCode;
}

/** Asks a yes/no question on the terminal; a Ctrl-C while asking answers 'interrupt'. */
async function ttyConfirm(
  input: NodeJS.ReadableStream,
  output: { write(s: string): unknown },
  question: string,
): Promise<boolean | 'interrupt'> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input, output: output as NodeJS.WritableStream, terminal: true });
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: boolean | 'interrupt') => {
      if (done) return;
      done = true;
      rl.close();
      resolve(v);
    };
    rl.on('SIGINT', () => {
      output.write('\n');
      finish('interrupt');
    });
    rl.on('close', () => finish(false));
    rl.question(question, (a) => finish(/^y(es)?$/i.test(a.trim())));
  });
}
