/** scripts/tls-certs.sh: the local CA and the server certificate `npm start -- --tls` serves. */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCerts, runTlsCerts, tempDir } from './certs';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
let tmp: ReturnType<typeof tempDir>;

beforeAll(() => {
  tmp = tempDir('tls-certs');
});
afterAll(() => tmp.remove());

const cert = (file: string) => new X509Certificate(readFileSync(file));
const fingerprint = (file: string) => cert(file).fingerprint256;
const mode = (file: string) => statSync(file).mode & 0o777;

describe('scripts/tls-certs.sh', () => {
  it('makes a CA and a server certificate for localhost, 127.0.0.1 and ::1 by default, with modern parameters', () => {
    const dir = join(tmp.path, 'default');
    const r = runTlsCerts(['--out', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([join(dir, 'ca.crt'), join(dir, 'server.crt'), join(dir, 'server.key')]);

    const ca = cert(join(dir, 'ca.crt'));
    const server = cert(join(dir, 'server.crt'));
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkHost('example.com')).toBeUndefined();
    expect(server.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    // Extended key usage: TLS server authentication (Node lists the EKU OIDs as keyUsage).
    expect(server.keyUsage).toEqual([SERVER_AUTH]);
    for (const c of [ca, server]) {
      expect(c.publicKey.asymmetricKeyType).toBe('ec');
      expect(c.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    }
    const days = (Date.parse(server.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(360);
    expect(days).toBeLessThanOrEqual(366);

    // The keys belong to the certificates, and only their owner may read them.
    for (const [crt, key] of [
      ['ca.crt', 'ca.key'],
      ['server.crt', 'server.key'],
    ] as const) {
      const priv = createPrivateKey(readFileSync(join(dir, key)));
      expect(cert(join(dir, crt)).checkPrivateKey(priv)).toBe(true);
      expect(mode(join(dir, key))).toBe(0o600);
    }
  });

  it('signs with ECDSA SHA-256 and marks only the CA as a CA (openssl text form)', () => {
    const dir = join(tmp.path, 'default');
    const text = execFileSync('openssl', ['x509', '-in', join(dir, 'server.crt'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication/);
  });

  it('reuses the CA and the certificate while they are valid, so a trusted CA stays trusted', () => {
    const dir = join(tmp.path, 'default');
    const before = [fingerprint(join(dir, 'ca.crt')), fingerprint(join(dir, 'server.crt'))];
    const r = runTlsCerts(['--out', dir]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('reusing CA');
    expect([fingerprint(join(dir, 'ca.crt')), fingerprint(join(dir, 'server.crt'))]).toEqual(before);
  });

  it('replaces a server certificate expiring within 30 days, keeping the CA', () => {
    const dir = join(tmp.path, 'short');
    makeCerts(dir, 'localhost', ['--days', '20']);
    const ca = fingerprint(join(dir, 'ca.crt'));
    const first = fingerprint(join(dir, 'server.crt'));
    makeCerts(dir, 'localhost');
    expect(fingerprint(join(dir, 'ca.crt'))).toBe(ca);
    expect(fingerprint(join(dir, 'server.crt'))).not.toBe(first);
    const days = (Date.parse(cert(join(dir, 'server.crt')).validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(360);
  });

  it('takes the host list and the output folder as parameters (as the K3s secrets script will)', () => {
    const dir = join(tmp.path, 'k3s');
    const hosts = 'person-api, location-ingest,person-api.udaconnect.svc.cluster.local,10.43.0.10';
    makeCerts(dir, hosts);
    const server = cert(join(dir, 'server.crt'));
    expect(server.subjectAltName).toBe('DNS:person-api, DNS:location-ingest, DNS:person-api.udaconnect.svc.cluster.local, IP Address:10.43.0.10');
    expect(server.subject).toContain('CN=person-api');
    expect(server.checkHost('localhost')).toBeUndefined();
  });

  it('makes a new server certificate when a host is added, and a new CA-signed one when the CA changes', () => {
    const dir = join(tmp.path, 'hosts');
    makeCerts(dir, 'localhost');
    const first = fingerprint(join(dir, 'server.crt'));
    makeCerts(dir, 'localhost,127.0.0.1');
    const second = cert(join(dir, 'server.crt'));
    expect(second.fingerprint256).not.toBe(first);
    expect(second.checkIP('127.0.0.1')).toBe('127.0.0.1');

    // A CA that is not the one that signed the certificate (e.g. replaced by hand): both are remade.
    const other = makeCerts(join(tmp.path, 'other-ca'), 'localhost');
    writeFileSync(join(dir, 'ca.crt'), readFileSync(other.caFile));
    writeFileSync(join(dir, 'ca.key'), readFileSync(join(other.dir, 'ca.key')));
    makeCerts(dir, 'localhost,127.0.0.1');
    expect(cert(join(dir, 'server.crt')).checkIssued(cert(join(dir, 'ca.crt')))).toBe(true);
    expect(cert(join(dir, 'server.crt')).verify(cert(join(dir, 'ca.crt')).publicKey)).toBe(true);
  });

  it('refuses what is not a host name or an IP address, and unknown flags', () => {
    const bad = runTlsCerts(['--out', join(tmp.path, 'bad'), '--hosts', 'local host']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('not a host name or IP address: local host');
    const flag = runTlsCerts(['--nope']);
    expect(flag.status).not.toBe(0);
    expect(flag.stderr).toContain('unknown argument: --nope');
  });
});
