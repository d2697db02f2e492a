/** The email report around a repack command. */
import { ExitCode, RpclError } from '../errors.js';
import { DETACHED_ENV, writeOutcome } from './outcome-file.js';
import { summaryLines } from './summary.js';
import { sendReport } from '../report/email.js';
import type { TableOutcome } from '../report/events.js';
import { secretsOf, type Runtime } from './runtime.js';
import { redact } from '../report/logger.js';

/**
 * Runs a repack command and, when [notifier] enable_email is on, mails its report, also when
 * it failed as a whole. A mail that cannot be sent is logged; the exit code stays the run's.
 */
export async function reported(
  rt: Runtime,
  command: string,
  body: () => Promise<{ outcomes: TableOutcome[]; exitCode: number }>,
): Promise<number> {
  const startedAt = new Date();
  let outcomes: TableOutcome[] = [];
  let error: unknown;
  let exitCode: number = ExitCode.internal;
  try {
    ({ outcomes, exitCode } = await body());
  } catch (err) {
    error = err;
  }
  const email = rt.config.notifier.email;
  if (rt.config.notifier.enableEmail && email) {
    const report = {
      command, configName: rt.config.name, startedAt, endedAt: new Date(), outcomes,
      error: error === undefined ? undefined : error instanceof Error ? error.message : String(error),
    };
    try {
      await sendReport(email, report);
      rt.log.info(`report mailed to ${email.mailto.join(', ')}`);
    } catch (err) {
      rt.log.error(`could not send the report email through ${email.smtpServer}:${email.smtpPort}: ${(err as Error).message}`);
    }
  }
  if (process.env[DETACHED_ENV] === '1') {
    const code = error === undefined ? exitCode : error instanceof RpclError ? error.exitCode : ExitCode.internal;
    const lines = error === undefined ? summaryLines(outcomes) : [`failed: ${error instanceof Error ? error.message : String(error)}`];
    try {
      writeOutcome(rt.config.pidDir, {
        command, config: rt.config.name, pid: process.pid, startedAt: startedAt.toISOString(), endedAt: new Date().toISOString(),
        exitCode: code, lines: lines.map((l) => redact(l, secretsOf(rt.config))),
      });
    } catch (err) {
      rt.log.error(`could not record the outcome for status: ${(err as Error).message}`);
    }
  }
  if (error !== undefined) throw error;
  return exitCode;
}

