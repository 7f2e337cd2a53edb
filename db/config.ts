/** What `db/cli.ts` reads from the environment (the K3s migrate Job sets the same variables). */
import { z } from 'zod';
import { env } from '@udaconnect/common';
import { SERVICE_ROLES } from './roles';

export const dbCliConfigSchema = z.object({
  /** The schema owner's URL (ct_admin): migrations, grants, seed; a superuser's for `roles`. */
  DATABASE_URL: env.databaseUrl(),
  LOG_LEVEL: env.logLevel(),
  // One password per service role (db/roles.ts); a role whose password is not set is left as it is.
  ...Object.fromEntries(SERVICE_ROLES.map((r) => [r.passwordEnv, z.string().min(1).optional()])),
});
