/**
 * TLS for the services that face devices and browsers (person-api's REST API, location-ingest's
 * gRPC): `TLS_CERT_FILE` + `TLS_KEY_FILE` (PEM) turn it on, neither keeps plaintext.
 *
 * The config schema only checks that the two come together (`tlsFilesPaired`); the files are
 * read and checked at start-up by `loadServerTls`, which names the variable, the path and what
 * is wrong (unreadable, not PEM, key not matching the certificate, certificate expired).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { crossVariableCheck } from './config';

/** A certificate (chain) and its private key, PEM. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
  /** Of the leaf certificate, for the start-up log. */
  subject: string;
  subjectAltName: string;
  validTo: string;
}

/** Thrown at start-up when the configured certificate or key cannot be used. */
export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

/** The two variables, for a service's config schema. */
export const tlsEnv = {
  certFile: () => z.string().min(1).optional(),
  keyFile: () => z.string().min(1).optional(),
};

/**
 * A refinement for config schemas with TLS_CERT_FILE and TLS_KEY_FILE: both or neither.
 * `schema.superRefine(tlsFilesPaired, tlsFilesPairedParams)`: run even when other variables are bad.
 */
export const tlsFilesPairedParams = crossVariableCheck;

export function tlsFilesPaired(value: { TLS_CERT_FILE?: string | undefined; TLS_KEY_FILE?: string | undefined }, ctx: z.RefinementCtx): void {
  const cert = Boolean(value.TLS_CERT_FILE);
  const key = Boolean(value.TLS_KEY_FILE);
  if (cert && !key)
    ctx.addIssue({ code: 'custom', path: ['TLS_KEY_FILE'], message: 'must be set too when TLS_CERT_FILE is set (both for TLS, neither for plaintext)' });
  if (key && !cert)
    ctx.addIssue({ code: 'custom', path: ['TLS_CERT_FILE'], message: 'must be set too when TLS_KEY_FILE is set (both for TLS, neither for plaintext)' });
}

function readPem(variable: string, file: string, marker: RegExp, what: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TlsConfigError(`${variable}: cannot read ${file} (${e.code ?? e.message})`);
  }
  if (!marker.test(data.toString('latin1'))) throw new TlsConfigError(`${variable}: ${file} holds no PEM ${what}`);
  return data;
}

/**
 * Reads and checks the configured certificate and key; undefined when neither is set (plaintext).
 * Throws a TlsConfigError naming the variable and file when they cannot be used.
 */
export function loadServerTls(config: { TLS_CERT_FILE?: string | undefined; TLS_KEY_FILE?: string | undefined }): ServerTls | undefined {
  const certFile = config.TLS_CERT_FILE || undefined;
  const keyFile = config.TLS_KEY_FILE || undefined;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    throw new TlsConfigError(`TLS_CERT_FILE and TLS_KEY_FILE go together: set both for TLS, neither for plaintext`);
  }
  const cert = readPem('TLS_CERT_FILE', certFile, /-----BEGIN CERTIFICATE-----/, 'certificate (-----BEGIN CERTIFICATE-----)');
  const key = readPem('TLS_KEY_FILE', keyFile, /-----BEGIN (EC |RSA |ENCRYPTED )?PRIVATE KEY-----/, 'private key (-----BEGIN PRIVATE KEY-----)');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new TlsConfigError(`TLS_CERT_FILE: ${certFile} is not a valid certificate (${(err as Error).message})`);
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new TlsConfigError(`TLS_KEY_FILE: ${keyFile} is not a usable private key (${(err as Error).message})`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsConfigError(`TLS_KEY_FILE: ${keyFile} is not the key of the certificate in TLS_CERT_FILE ${certFile} (${(err as Error).message})`);
  }
  if (Date.parse(leaf.validTo) <= Date.now()) {
    throw new TlsConfigError(`TLS_CERT_FILE: the certificate in ${certFile} expired on ${leaf.validTo}`);
  }
  return { cert, key, certFile, keyFile, subject: leaf.subject.replace(/\n/g, ', '), subjectAltName: leaf.subjectAltName ?? '', validTo: leaf.validTo };
}

/** An HTTPS server with `tls`, else a plain HTTP one, for `handler` (e.g. an express app). */
export function createHttpServer(handler: http.RequestListener, tls?: ServerTls): http.Server {
  if (!tls) return http.createServer(handler);
  return https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler);
}
