import { z } from 'zod';

/** The body of every failed request: `{success:false,error:{message,details?}}`. */
export const failureResponse = z.object({
  success: z.literal(false),
  error: z.object({
    message: z.string(),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  }),
});
