import { backoffDelay, retry } from '../src/backoff';

test('backoff delays are jittered within an exponentially growing, capped ceiling', () => {
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(1000, 10 * 2 ** attempt);
    const delays = Array.from({ length: 200 }, () => backoffDelay(attempt, 10, 1000));
    expect(Math.max(...delays)).toBeLessThanOrEqual(ceiling);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
  }
  expect(new Set(Array.from({ length: 50 }, () => backoffDelay(8, 10, 1000))).size).toBeGreaterThan(1);
});

test('retry returns the first success and gives up with the last error after the deadline', async () => {
  let calls = 0;
  await expect(retry(async () => (++calls < 3 ? Promise.reject(new Error(`no ${calls}`)) : 'yes'), { deadlineMs: 5_000, baseMs: 1 })).resolves.toBe('yes');
  expect(calls).toBe(3);
  await expect(retry(async () => Promise.reject(new Error('always')), { deadlineMs: 50, baseMs: 5, capMs: 10 })).rejects.toThrow('always');
});

test('retry rethrows at once an error that retryIf refuses, and retries the others', async () => {
  let calls = 0;
  const fail = (code: string) => Object.assign(new Error(code), { code });
  await expect(
    retry(async () => Promise.reject(fail(++calls < 2 ? 'busy' : 'fatal')), {
      deadlineMs: 5_000,
      baseMs: 1,
      retryIf: (e) => (e as { code: string }).code === 'busy',
    }),
  ).rejects.toThrow('fatal');
  expect(calls).toBe(2);
});
