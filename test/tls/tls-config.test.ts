/**
 * TLS configuration of person-api, location-ingest and connection-service (its devices' port):
 * TLS_CERT_FILE and TLS_KEY_FILE both or neither (a config error naming the missing one), and a
 * clear start-up error, before anything connects, when the files cannot be used.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, createLogger, loadServerTls, parseConfig, TlsConfigError } from '@udaconnect/common';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { startIngest } from '../../modules/location-ingest/src/ingest-service';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { startConnectionService } from '../../modules/connection-service/src/connection-service';
import { ROOT } from '../support/test-env';
import { testAuth } from '../support/auth';
import { makeCerts, tempDir, type CertSet } from './certs';

const logger = createLogger('tls-config-test', 'silent');
/** Nothing listens here: a service that got as far as connecting would hang or fail differently. */
let NOWHERE: Record<string, string>;

let tmp: ReturnType<typeof tempDir>;
let certs: CertSet;
let other: CertSet;

beforeAll(async () => {
  // The other settings are valid (keys for token verification included), so only TLS is wrong.
  NOWHERE = { DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none', KAFKA_BROKERS: '127.0.0.1:1', ...(await testAuth()).env };
  tmp = tempDir('tls-config');
  certs = makeCerts(join(tmp.path, 'a'));
  other = makeCerts(join(tmp.path, 'b'));
});
afterAll(() => tmp.remove());

function configProblems(
  schema: typeof ingestConfigSchema | typeof personApiConfigSchema | typeof connectionConfigSchema,
  env: Record<string, string>,
): string[] {
  try {
    parseConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe.each([
  ['person-api', personApiConfigSchema],
  ['location-ingest', ingestConfigSchema],
  ['connection-service', connectionConfigSchema],
] as const)('%s config', (_name, schema) => {
  it('names the missing half when only one of TLS_CERT_FILE / TLS_KEY_FILE is set', () => {
    expect(configProblems(schema, { ...NOWHERE, TLS_CERT_FILE: certs.certFile })).toContain(
      'TLS_KEY_FILE: must be set too when TLS_CERT_FILE is set (both for TLS, neither for plaintext)',
    );
    expect(configProblems(schema, { ...NOWHERE, TLS_KEY_FILE: certs.keyFile, TLS_CERT_FILE: '' })).toContain(
      'TLS_CERT_FILE: must be set too when TLS_KEY_FILE is set (both for TLS, neither for plaintext)',
    );
  });

  it('reports the TLS problem together with the other bad variables', () => {
    const problems = configProblems(schema, { TLS_CERT_FILE: certs.certFile });
    expect(problems).toContain('DATABASE_URL is required but not set');
    expect(problems.some((p) => p.startsWith('TLS_KEY_FILE: must be set too'))).toBe(true);
  });

  it('has no TLS problem with both or neither', () => {
    const tlsProblems = (env: Record<string, string>) => configProblems(schema, env).filter((p) => p.startsWith('TLS_'));
    expect(tlsProblems({ ...NOWHERE })).toEqual([]);
    expect(tlsProblems({ ...NOWHERE, TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile })).toEqual([]);
  });
});

test("connection-service: TLS is for its devices' port, so a certificate without MEETINGS_PORT is refused by name", () => {
  const both = { ...NOWHERE, TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile };
  expect(configProblems(connectionConfigSchema, both)).toEqual([
    "MEETINGS_PORT: must be set with TLS_CERT_FILE: TLS is for the devices' Meetings port only (PORT stays plaintext)",
  ]);
  expect(configProblems(connectionConfigSchema, { ...both, MEETINGS_PORT: '30005' })).toEqual([]);
  expect(configProblems(connectionConfigSchema, { ...NOWHERE, MEETINGS_PORT: '30005' })).toEqual([]);
  expect(configProblems(connectionConfigSchema, { ...NOWHERE, MEETINGS_PORT: '70000' }).some((p) => p.startsWith('MEETINGS_PORT'))).toBe(true);
});

describe('loadServerTls', () => {
  it('is plaintext (undefined) when neither file is configured, and reads both when they are', () => {
    expect(loadServerTls({})).toBeUndefined();
    const tls = loadServerTls({ TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile })!;
    expect(tls.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls.subjectAltName).toContain('DNS:localhost');
  });

  it.each([
    [
      'an unreadable certificate',
      () => ({ TLS_CERT_FILE: join(tmp.path, 'missing.crt'), TLS_KEY_FILE: certs.keyFile }),
      /^TLS_CERT_FILE: cannot read .*missing\.crt \(ENOENT\)$/,
    ],
    [
      'an unreadable key',
      () => ({ TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: join(tmp.path, 'missing.key') }),
      /^TLS_KEY_FILE: cannot read .*missing\.key \(ENOENT\)$/,
    ],
    [
      'a key file given as the certificate',
      () => ({ TLS_CERT_FILE: certs.keyFile, TLS_KEY_FILE: certs.keyFile }),
      /^TLS_CERT_FILE: .* holds no PEM certificate/,
    ],
    ['a certificate given as the key', () => ({ TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.certFile }), /^TLS_KEY_FILE: .* holds no PEM private key/],
    [
      'the key of another certificate',
      () => ({ TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: other.keyFile }),
      /^TLS_KEY_FILE: .* is not the key of the certificate in TLS_CERT_FILE/,
    ],
  ])('refuses %s, naming the variable and the file', (_what, env, message) => {
    expect(() => loadServerTls(env())).toThrow(TlsConfigError);
    expect(() => loadServerTls(env())).toThrow(message);
  });

  it('refuses an expired certificate', async () => {
    const expired = makeCerts(join(tmp.path, 'expired'), 'localhost', ['--days', '0']);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(() => loadServerTls({ TLS_CERT_FILE: expired.certFile, TLS_KEY_FILE: expired.keyFile })).toThrow(
      /^TLS_CERT_FILE: the certificate in .* expired on /,
    );
  });

  it('refuses a garbled certificate', () => {
    const file = join(tmp.path, 'garbled.crt');
    writeFileSync(file, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    expect(() => loadServerTls({ TLS_CERT_FILE: file, TLS_KEY_FILE: certs.keyFile })).toThrow(/^TLS_CERT_FILE: .* is not a valid certificate/);
  });
});

describe('start-up', () => {
  it('location-ingest fails on an unusable certificate before connecting to anything', async () => {
    const config = parseConfig(ingestConfigSchema, {
      ...NOWHERE,
      PORT: '0',
      METRICS_PORT: '0',
      TLS_CERT_FILE: join(tmp.path, 'missing.crt'),
      TLS_KEY_FILE: certs.keyFile,
    });
    const started = Date.now();
    await expect(startIngest(config, logger)).rejects.toThrow(/^TLS_CERT_FILE: cannot read/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("connection-service fails on an unusable certificate for its devices' port before connecting to anything", async () => {
    const config = parseConfig(connectionConfigSchema, {
      ...NOWHERE,
      PORT: '0',
      METRICS_PORT: '0',
      MEETINGS_PORT: '0',
      TLS_CERT_FILE: certs.certFile,
      TLS_KEY_FILE: other.keyFile,
    });
    const started = Date.now();
    await expect(startConnectionService(config, logger)).rejects.toThrow(/^TLS_KEY_FILE: .* is not the key of the certificate in TLS_CERT_FILE/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  function run(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry)], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(kill);
        resolve({ code, stderr });
      });
    });
  }

  it.each(['modules/location-ingest/src/main.ts', 'modules/person-api/src/main.ts'])(
    '%s exits 1 naming TLS_KEY_FILE when only the certificate is set',
    async (entry) => {
      const r = await run(entry, { ...NOWHERE, TLS_CERT_FILE: certs.certFile });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('TLS_KEY_FILE: must be set too when TLS_CERT_FILE is set');
    },
  );

  it('location-ingest exits 1 with the reason when the certificate cannot be read', async () => {
    const r = await run('modules/location-ingest/src/main.ts', { ...NOWHERE, TLS_CERT_FILE: join(tmp.path, 'missing.crt'), TLS_KEY_FILE: certs.keyFile });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TLS_CERT_FILE: cannot read .*missing\.crt \(ENOENT\)/);
  });
});
