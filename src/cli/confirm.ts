/**
 * Destructive commands (drop_schema, abort_repack) list what they will remove and, on a
 * terminal, ask before doing it. `--yes` skips the question; without a terminal (cron, a
 * script, a pipe) nobody could answer, so none is asked: the listing is still printed.
 */
import { createInterface } from 'node:readline/promises';

export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** Prints the list; true when the command may go on. */
export async function confirmRemoval(heading: string, items: string[], opts: { yes: boolean }): Promise<boolean> {
  process.stdout.write(`${heading}\n${items.map((i) => `  - ${i}\n`).join('')}`);
  if (opts.yes || !interactive()) return true;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question('Remove all of the above? [y/N] ');
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
