// Splits a byte stream into text lines. Reading never pauses, so a chatty workload never blocks on a full
// pipe whatever the control plane does; over-long lines are cut so one line never exceeds the protocol max.
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

/** LogLineSchema allows 16,384 characters per line. */
export const MAX_LINE_CHARS = 16_384;

export function splitLines(stream: Readable, onLine: (text: string) => void, maxChars = MAX_LINE_CHARS): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let buf = '';
  // A line is cut into maxChars pieces whether its newline came in the same chunk or not.
  const line = (text: string) => {
    for (let i = 0; i < text.length; i += maxChars) onLine(text.slice(i, i + maxChars));
    if (text.length === 0) onLine('');
  };
  const emit = (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      line(buf.slice(0, nl).replace(/\r$/, ''));
      buf = buf.slice(nl + 1);
    }
    while (buf.length > maxChars) {
      onLine(buf.slice(0, maxChars));
      buf = buf.slice(maxChars);
    }
  };
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => emit(decoder.write(chunk)));
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      emit(decoder.end());
      if (buf.length > 0) line(buf);
      buf = '';
      resolve();
    };
    stream.once('end', end);
    stream.once('error', end);
    stream.once('close', end);
  });
}

/** 128 + signal number: what a shell reports, and what docker reports for a killed container. */
export function signalExitCode(signal: NodeJS.Signals | null, signals: Record<string, number>): number | null {
  if (!signal) return null;
  const n = signals[signal];
  return n === undefined ? null : 128 + n;
}
