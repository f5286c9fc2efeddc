/**
 * TLS flags: the certificate, key and CA files of the coordinator port and of a worker, read
 * once at start (and again on SIGHUP by the coordinator), with errors that name the file.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { CoordinatorTls } from '@ringtrain/coordinator';
import type { WorkerTls } from '@ringtrain/worker';
import { InvalidArgumentError } from './errors.ts';

export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsRequireClientCert?: boolean;
}

/** `--tls-cert`, `--tls-key`, `--tls-ca` and, for a server, `--tls-require-client-cert`. */
export function addTlsOptions(command: Command, side: 'coordinator' | 'worker'): Command {
  command
    .addOption(
      new Option(
        '--tls-cert <file>',
        side === 'coordinator'
          ? 'PEM certificate (chain) of the coordinator port: workers dial wss://, the dashboard is https:// (with --tls-key)'
          : 'PEM certificate of this worker: its peer port serves TLS with it, and it shows it to a coordinator or peer that asks (with --tls-key and --tls-ca)',
      ),
    )
    .addOption(new Option('--tls-key <file>', 'PEM private key of --tls-cert'))
    .addOption(
      new Option(
        '--tls-ca <file>',
        side === 'coordinator' ? 'PEM CA whose client certificates --tls-require-client-cert accepts' : 'PEM CA that signed the coordinator\'s and the peers\' certificates',
      ),
    );
  if (side === 'coordinator') command.option('--tls-require-client-cert', 'accept only workers (and browsers) holding a certificate signed by --tls-ca; the token is still checked');
  return command;
}

function readPem(flag: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new InvalidArgumentError(`${flag} ${path}: cannot read it (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message})`);
  }
  if (!text.includes('-----BEGIN')) throw new InvalidArgumentError(`${flag} ${path}: not PEM (no -----BEGIN line)`);
  return text;
}

/** The coordinator's TLS, or undefined for cleartext. */
export function coordinatorTlsFrom(flags: TlsFlags): CoordinatorTls | undefined {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) {
    if (flags.tlsCa !== undefined || flags.tlsRequireClientCert === true) throw new InvalidArgumentError('--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key');
    return undefined;
  }
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  if (flags.tlsRequireClientCert === true && flags.tlsCa === undefined) throw new InvalidArgumentError('--tls-require-client-cert needs --tls-ca, the CA of the certificates it accepts');
  return {
    cert: readPem('--tls-cert', flags.tlsCert),
    key: readPem('--tls-key', flags.tlsKey),
    ...(flags.tlsCa === undefined ? {} : { ca: readPem('--tls-ca', flags.tlsCa) }),
    requireClientCert: flags.tlsRequireClientCert === true,
  };
}

/** A worker's TLS, or undefined for none. */
export function workerTlsFrom(flags: TlsFlags): WorkerTls | undefined {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined && flags.tlsCa === undefined) return undefined;
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  return {
    ...(flags.tlsCa === undefined ? {} : { ca: readPem('--tls-ca', flags.tlsCa) }),
    ...(flags.tlsCert === undefined ? {} : { cert: readPem('--tls-cert', flags.tlsCert) }),
    ...(flags.tlsKey === undefined ? {} : { key: readPem('--tls-key', flags.tlsKey) }),
  };
}

/** The flags that give a local worker the same files (`launch`). */
export function tlsArguments(flags: TlsFlags): string[] {
  const args: string[] = [];
  if (flags.tlsCert !== undefined) args.push('--tls-cert', flags.tlsCert);
  if (flags.tlsKey !== undefined) args.push('--tls-key', flags.tlsKey);
  if (flags.tlsCa !== undefined) args.push('--tls-ca', flags.tlsCa);
  return args;
}
