/**
 * Measures two things in halves, A, B, B, A, and combines each one's halves. The machine's speed
 * drifts over minutes, and so does a shared server's cost per operation; measuring A then B would
 * charge the drift to B.
 */
export async function inAlternateHalves<T>(
  a: (half: number) => Promise<T>,
  b: (half: number) => Promise<T>,
  [first, second]: readonly [number, number],
  combine: (first: T, second: T) => T,
): Promise<[T, T]> {
  const a1 = await a(first);
  const b1 = await b(first);
  const b2 = await b(second);
  const a2 = await a(second);
  return [combine(a1, a2), combine(b1, b2)];
}
