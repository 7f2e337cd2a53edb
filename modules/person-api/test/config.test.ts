/** The real entry point refuses to start without its configuration, naming what is missing. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const runMain = (env: Record<string, string>) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'modules/person-api/src/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });

test('a missing DATABASE_URL stops the service with exit 1 and a message naming it', () => {
  const r = runMain({});
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('DATABASE_URL is required but not set');
});

test('every bad variable is named at once', () => {
  const r = runMain({ DATABASE_URL: 'mysql://nope', PORT: 'eighty' });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/DATABASE_URL: must be a postgresql:\/\/ URL/);
  expect(r.stderr).toMatch(/PORT: /);
});
