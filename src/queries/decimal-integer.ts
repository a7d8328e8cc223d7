import { z } from 'zod';

/**
 * A query parameter holding a whole number in decimal digits, between `min` and `max`.
 * `z.coerce.number()` takes whatever `Number()` reads: `0x1`, `1e2`, ` 7 `, and an empty value as 0.
 */
export function decimalInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().min(min).max(max));
}
