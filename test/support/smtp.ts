/** A real SMTP peer (smtp-server) that keeps what it receives; STARTTLS with a self-signed certificate or plain. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  secure: boolean;
  user?: string;
}

export interface SmtpPeer {
  port: number;
  mails: ReceivedMail[];
  /** The self-signed certificate, for NODE_EXTRA_CA_CERTS. */
  caFile?: string;
  close(): Promise<void>;
}

export function selfSignedCertificate(): { key: string; cert: string; certFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rpcl-smtp-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

/** Unfolds headers and decodes quoted-printable: enough for nodemailer's ASCII text mails. */
function parse(raw: string): { subject: string; text: string } {
  const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = head.replace(/\r?\n[ \t]+/g, ' ');
  const subject = /^Subject: (.*)$/im.exec(headers)?.[1] ?? '';
  let text = rest.join('\n\n');
  if (/Content-Transfer-Encoding: quoted-printable/i.test(headers)) {
    text = text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return { subject, text: text.replace(/\r\n/g, '\n') };
}

export async function startSmtp(mode: 'starttls' | 'none', opts: { user?: string; password?: string } = {}): Promise<SmtpPeer> {
  const mails: ReceivedMail[] = [];
  const tls = mode === 'starttls' ? selfSignedCertificate() : undefined;
  const server = new SMTPServer({
    secure: false,
    key: tls?.key,
    cert: tls?.cert,
    disabledCommands: mode === 'none' ? ['STARTTLS', 'AUTH'] : [],
    authOptional: opts.user === undefined,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === opts.user && auth.password === opts.password) cb(null, { user: auth.username });
      else cb(new Error('invalid credentials'));
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (d: Buffer) => (raw += d.toString()));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
          ...parse(raw),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('smtp server has no port');
  return {
    port: address.port,
    mails,
    caFile: tls?.certFile,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
