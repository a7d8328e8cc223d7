/**
 * Reads until the answer is not stale. One GET waits up to 2 s for the projection to reach a
 * change; on a loaded machine it can take longer, as can any read while another test's open
 * transaction holds back the event feed (it does so cluster-wide). A read still stale after
 * `withinMs` is returned as it is, for the caller's assertion to fail on; the bodies of the stale
 * fetch answers before it are discarded.
 */
export async function freshRead<Answer>(
  read: () => Promise<Answer>,
  isStale: (answer: Answer) => boolean,
  withinMs = 30_000,
): Promise<Answer> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const answer = await read();
    if (!isStale(answer) || Date.now() >= deadline) return answer;
    // A stale fetch answer's unread body would hold its connection until collected.
    if (answer instanceof Response) await answer.body?.cancel();
  }
}
