/**
 * kafkajs 2.2.4, its last release, schedules its request-queue check with a negative delay
 * whenever nothing is throttled. Node has always run such a timer after 1 ms, which is what
 * kafkajs relies on; since Node 23 it also prints a TimeoutNegativeWarning, once per process, at
 * the worker's start. That one warning says nothing an operator can act on, so it is dropped;
 * every other warning is emitted as before.
 */
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;

process.emitWarning = (warning: unknown, ...rest: unknown[]) => {
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown })?.type;
  if (type === 'TimeoutNegativeWarning') return;
  emitWarning(warning, ...rest);
};
