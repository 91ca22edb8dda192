// Parses the command line, runs the command, and turns every failure into `error: ...` and an exit
// code: 1 for errors, 2 for usage errors (commander's and ours), never a stack trace.
import { CommanderError } from 'commander';
import { processIo, type Io } from './io';
import { CliError, errorLines, isKnownError } from './errors';
import { buildProgram, type RunState } from './program';

export async function main(argv: string[] = process.argv.slice(2), io: Io = processIo()): Promise<number> {
  const state: RunState = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander printed its message (or the help) already
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      return e.exitCode === 0 ? 0 : 2;
    }
    for (const line of errorLines(e)) io.stderr.write(`${line}\n`);
    if (!isKnownError(e) && io.env.GPUPOOL_DEBUG) io.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}
