import { z } from 'zod';

/** The `:instance` path parameter of every per-instance route. */
export const instanceParams = z.object({
  instance: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be an instance name')
    .describe('Instance name.'),
});
