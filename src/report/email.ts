/**
 * The run report by email: one message per run covering every connection, success or failure,
 * sent through nodemailer. A failure to send is the caller's to log; it never changes the
 * run's outcome.
 */
import { hostname } from 'node:os';
import type { EmailConfig } from '../config/types.js';
import type { TableOutcome } from './events.js';
import { formatBytes } from './log-events.js';

export interface RunReport {
  command: string;
  configName: string;
  startedAt: Date;
  endedAt: Date;
  outcomes: TableOutcome[];
  /** A failure of the run as a whole (connection lost, ...), if any. */
  error?: string;
}

export function reportSubject(r: RunReport): string {
  const count = (s: TableOutcome['status']) => r.outcomes.filter((o) => o.status === s).length;
  const failed = count('failed') + (r.error ? 1 : 0);
  const verdict = failed > 0 ? 'FAILED' : 'ok';
  const skipped = count('skipped') > 0 ? `, ${count('skipped')} skipped` : '';
  return `rpcl ${r.command} (${r.configName}) on ${hostname()}: ${verdict}: ${count('done')} done, ${count('failed')} failed, ${count('refused')} refused${skipped}`;
}

export function reportBody(r: RunReport): string {
  const lines = [
    `rpcl ${r.command} with config ${r.configName} on ${hostname()}`,
    `started ${r.startedAt.toISOString()}, ended ${r.endedAt.toISOString()}`,
    '',
  ];
  if (r.error) lines.push(`the run failed: ${r.error}`, '');
  if (r.outcomes.length === 0) lines.push(r.command === 'repack_indexes' ? 'no index was processed' : 'no table was processed');
  for (const o of r.outcomes) {
    const sizes = o.sizeBefore !== undefined ? `, ${formatBytes(o.sizeBefore)} -> ${o.sizeAfter === undefined ? '?' : formatBytes(o.sizeAfter)}` : '';
    const reason = o.reason ? `: ${o.reason}` : '';
    const subject = o.index === undefined ? o.table : `index ${o.index} (table ${o.table})`;
    lines.push(`${o.connection} ${subject}: ${o.status} in ${(o.durationMs / 1000).toFixed(1)} s${sizes}${reason}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function sendReport(email: EmailConfig, report: RunReport): Promise<void> {
  // Loaded only when a mail is sent: it is the heaviest module, and most runs send none.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: email.smtpServer,
    port: email.smtpPort,
    secure: email.smtpSsl === 'tls',
    requireTLS: email.smtpSsl === 'starttls',
    ignoreTLS: email.smtpSsl === 'none',
    auth: email.smtpUsername ? { user: email.smtpUsername, pass: email.smtpPassword ?? '' } : undefined,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
  try {
    await transport.sendMail({
      from: email.mailfrom,
      to: email.mailto,
      subject: reportSubject(report),
      text: reportBody(report),
    });
  } finally {
    transport.close();
  }
}
