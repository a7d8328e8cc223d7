import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Why this exists: every chunk a socket delivers is a fresh 64 KiB ArrayBuffer, garbage as soon
 * as it is passed on. Node 20's V8 scavenged when young ArrayBuffers grew ("external memory
 * pressure"), so a streamed download left a few MiB of them; Node 24's V8 does not (its JS heap
 * barely grows per chunk, so no scavenge comes), and they pile up to its 64 MiB external-memory
 * limit plus what arrives while the full collection it then starts is marking: 75–90 MiB more
 * resident memory per process while a large object streams (no V8 flag changes that). Collecting
 * the young generation after every 8 MiB streamed frees them while they are still young; a
 * scavenge of a young generation that is mostly dead costs about a millisecond.
 *
 * V8's `gc` is exposed in a context of its own, and only there: the flag is set back at once, so
 * no other code (nor the global object) sees it.
 */
// Made on first use, not at import: nothing changes V8's flags unless media actually stream.
let collectYoungGeneration: (() => void) | undefined;
const bytesPerCollection = 8 * 1024 * 1024;
let bytesSinceCollection = 0;

/** Counts streamed bytes whose chunks are dead once passed on; collects them every 8 MiB. */
export function countStreamedBytes(bytes: number): void {
  bytesSinceCollection += bytes;
  if (bytesSinceCollection < bytesPerCollection) return;
  bytesSinceCollection = 0;
  collectYoungGeneration ??= exposedGc();
  collectYoungGeneration();
}

function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  try {
    const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    return () => gc({ type: 'minor' });
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
