/**
 * RevocationList (modules/common/src/auth.ts) on a real database: a revocation this process is told of
 * (person-api, right after DELETE /api/devices/{id} or DELETE /api/persons/{id}) while a re-read of the
 * list is running survives that read, which may have started before the revocation was committed.
 * (Found as a flaky browser test: the page's next call, made just after the DELETE, was still
 * accepted, because a poll that had started before it replaced the list without the new id.)
 */
import { randomUUID } from 'node:crypto';
import { createLogger, RevocationList } from '@udaconnect/common';
import { useTestDatabase } from '../support/test-database';

const logger = createLogger('revocation-list-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const t = useTestDatabase('revocations');

test('a token revoked and a person erased while the list is being re-read are not dropped by that read', async () => {
  const list = new RevocationList(t.knex, logger, 60_000);
  await list.refresh();
  const deviceId = randomUUID();
  expect(list.isRevoked(deviceId)).toBe(false);
  expect(list.isPersonErased(77)).toBe(false);

  // The read is in flight (its query cannot see what follows: nothing is written to the database).
  const reading = list.refresh();
  list.add(deviceId);
  list.addErasedPerson(77);
  expect(list.isRevoked(deviceId)).toBe(true);
  await reading;
  expect(list.isRevoked(deviceId)).toBe(true);
  expect(list.isPersonErased(77)).toBe(true);
});
