// gpupool: the command-line client of the gpupool API (`gpupool --help`; docs/cli.md).
import { main } from './cli/main';

// `gpupool jobs logs X | head`: a closed pipe ends the output quietly, not with a stack trace
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`error: ${(e as Error)?.message ?? e}\n`);
    process.exitCode = 1;
  },
);
