/** Runs the frontend's component tests (vitest + testing-library, modules/frontend/test) inside `npm test`. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

test('frontend component tests pass (vitest run --root modules/frontend)', () => {
  const r = spawnSync('npx', ['vitest', 'run', '--root', 'modules/frontend'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    timeout: 170_000,
  });
  if (r.status !== 0) {
    console.error(`vitest exited ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`);
  }
  expect(r.status).toBe(0);
}, 180_000);
