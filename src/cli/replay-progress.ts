/** One progress line of a replay: events done, rate, and the time left when the total is known. */
export function progressLine(events: number, elapsedMs: number, total?: number): string {
  const rate = elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : 0;
  const parts = [
    total === undefined ? `${events} events` : `${events}/${total} events`,
    `${rate} events/s`,
  ];
  if (total !== undefined && rate > 0) {
    parts.push(`ETA ${Math.max(0, Math.ceil((total - events) / rate))}s`);
  }
  return `replay: ${parts.join(', ')}`;
}

/** Writes a progress line at most once per `everyMs`, so short replays stay quiet. */
export function progressReporter(
  write: (line: string) => void,
  {
    total,
    everyMs = 1000,
    now = () => Date.now(),
  }: { total?: number; everyMs?: number; now?: () => number } = {},
) {
  const started = now();
  let lastShown = started;
  return (events: number) => {
    const at = now();
    if (at - lastShown < everyMs) return;
    lastShown = at;
    write(progressLine(events, at - started, total));
  };
}
