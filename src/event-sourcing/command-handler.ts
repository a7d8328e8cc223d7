import { randomUUID } from 'node:crypto';
import { BoundedMap } from '../shared/bounded-map.ts';
import { KeyedMutex } from '../shared/keyed-mutex.ts';
import { StowageError } from '../shared/errors.ts';
import {
  StreamConflictError,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from './event-store.ts';

/** Decides commands against the state folded from a stream's events. */
export interface Decider<Command, State, Event> {
  decide: (command: Command, state: State) => Event[];
  evolve: (state: State, event: Event) => State;
  initialState: State;
}

/** How a decider's events are stored, and read back. */
export interface StoredEvents<State, Event> {
  toStored(event: Event): { type: string; data: Record<string, unknown> };
  /** The decider's event; undefined for a type this version does not know. */
  fromStored(recorded: RecordedEvent): Event | undefined;
  /** The state past an event of a type this version does not know. */
  passUnknown(state: State, recorded: RecordedEvent): State;
}

/** A state and the revision of the last stream event folded into it (null: none). */
export interface Folded<State> {
  state: State;
  revision: number | null;
}

export function foldStream<State, Event>(
  evolve: (state: State, event: Event) => State,
  stored: StoredEvents<State, Event>,
  events: readonly RecordedEvent[],
  from: Folded<State>,
): Folded<State> {
  let { state, revision } = from;
  for (const recorded of events) {
    const event = stored.fromStored(recorded);
    state = event ? evolve(state, event) : stored.passUnknown(state, recorded);
    revision = recorded.revision;
  }
  return { state, revision };
}

/** One command, as the handler carries it out on one stream. */
export interface CommandRequest<Command, State, Event> {
  /**
   * The command to decide on `state`, whose events would be appended at `nextRevision` on. Made
   * again on each attempt, since the state may have moved.
   */
  prepare(state: State, nextRevision: number): Promise<PreparedCommand<Command, Event>>;
  /** Stored with each of the command's events. */
  metadata: Record<string, unknown>;
}

export interface PreparedCommand<Command, Event> {
  command: Command;
  /**
   * Its events are certainly not in the stream: it changed nothing, was refused, lost to
   * another append, or failed before appending. Not called when an append failed otherwise,
   * since that append may have committed.
   */
  dropped?(): Promise<void>;
  /** Its events were appended. */
  appended?(events: readonly Event[]): Promise<void>;
}

export interface HandledCommand<State> extends Folded<State> {
  /** Position of the last appended event; absent when nothing needed to change. */
  position?: LogPosition;
}

/** Appends lost to another process's append on the same stream, in a row, before giving up. */
export class ConcurrentChangeError extends StowageError {
  constructor(message: string) {
    super('concurrent-change', message);
  }
}

export interface CommandHandlerDeps<Command, State, Event> {
  eventStore: EventStore;
  decider: Decider<Command, State, Event>;
  stored: StoredEvents<State, Event>;
  /** Whether `decide` threw to refuse the command (rather than failed). */
  isRejection: (error: unknown) => error is Error;
  maxAttempts?: number;
}

/**
 * Fold the stream, decide, append at the revision it was folded at; on a conflict, all over
 * again. Commands on one stream are queued within this handler, so only other processes can
 * cause conflicts.
 *
 * Folded states are kept in memory. A command decided on a kept state is appended at once: the
 * expected revision makes the store refuse it if the state was stale. A decision that appends
 * nothing (a repeat) or refuses the command proves nothing about staleness: it stands only once
 * the stream's tail shows nothing was appended since, and is made again on the refreshed state
 * otherwise.
 */
export function createCommandHandler<Command, State, Event>({
  eventStore,
  decider,
  stored,
  isRejection,
  maxAttempts = 10,
}: CommandHandlerDeps<Command, State, Event>) {
  const perStream = new KeyedMutex();
  const folded = new BoundedMap<string, Folded<State>>(foldedStreamsKept);
  const initial: Folded<State> = { state: decider.initialState, revision: null };

  async function upToDate(stream: string, known: Folded<State> | undefined) {
    const from = known?.revision == null ? 0 : known.revision + 1;
    const events = await eventStore.readStream(stream, from);
    // A repeat's check mostly finds nothing new: the kept state stays as it is.
    if (known && events.length === 0) return known;
    const current = foldStream(decider.evolve, stored, events, known ?? initial);
    folded.set(stream, current);
    return current;
  }

  type Request = CommandRequest<Command, State, Event>;

  async function attempt(
    stream: string,
    request: Request,
    afterConflict: boolean,
  ): Promise<HandledCommand<State>> {
    const kept = folded.get(stream);
    // After a conflict the kept state is known to be behind, yet still a true prefix of the
    // stream: reading only its tail keeps the retry short, so a busy other writer does not win
    // every race against a reader of the whole stream.
    if (!kept || afterConflict)
      return decided(await decideAndAppend(stream, request, await upToDate(stream, kept)));
    const outcome = await decideAndAppend(stream, request, kept);
    if (!(outcome instanceof NothingAppended)) return outcome;
    const current = await upToDate(stream, kept);
    // Nothing appended since: the same state decides the same way (decide is pure).
    if (current.revision === kept.revision) return decided(outcome);
    return decided(await decideAndAppend(stream, request, current));
  }

  /** The outcome on a current state: its refusal is the answer, and no change is one too. */
  function decided(outcome: HandledCommand<State> | NothingAppended<State>): HandledCommand<State> {
    if (!(outcome instanceof NothingAppended)) return outcome;
    if (outcome.refusal !== undefined) throw outcome.refusal;
    return outcome.folded;
  }

  /** Appends what the command decided on `current`; a refusal or no change is only reported. */
  async function decideAndAppend(
    stream: string,
    request: Request,
    current: Folded<State>,
  ): Promise<HandledCommand<State> | NothingAppended<State>> {
    const { state, revision } = current;
    const prepared = await request.prepare(state, revision === null ? 0 : revision + 1);
    const dropped = async () => prepared.dropped?.();
    let appending = false;
    try {
      let events;
      try {
        events = decider.decide(prepared.command, state);
      } catch (error) {
        if (!isRejection(error)) throw error;
        await dropped();
        return new NothingAppended(current, error);
      }
      if (events.length === 0) {
        await dropped();
        return new NothingAppended(current);
      }
      appending = true;
      const appended = await eventStore.appendToStream(
        stream,
        events.map((event) => ({
          id: randomUUID(),
          ...stored.toStored(event),
          metadata: request.metadata,
        })),
        revision ?? 'no_stream',
      );
      const after = { state: events.reduce(decider.evolve, state), revision: appended.revision };
      folded.set(stream, after);
      await prepared.appended?.(events);
      return { ...after, position: appended.position };
    } catch (error) {
      if (!appending || error instanceof StreamConflictError) await dropped();
      throw error;
    }
  }

  return async function handle(stream: string, request: Request): Promise<HandledCommand<State>> {
    return perStream.run(stream, async () => {
      for (let attemptNo = 1; ; attemptNo++) {
        try {
          return await attempt(stream, request, attemptNo > 1);
        } catch (error) {
          if (!(error instanceof StreamConflictError)) throw error;
          if (attemptNo >= maxAttempts) throw new ConcurrentChangeError(error.message);
          await sleep(Math.random() * 5 * attemptNo);
        }
      }
    });
  };
}

/**
 * A decision that appended nothing: no change, or a refusal. On a kept state it proves nothing,
 * since the state may be stale; on a current one it is the answer.
 */
class NothingAppended<State> {
  constructor(
    readonly folded: Folded<State>,
    readonly refusal?: Error,
  ) {}
}

// A folded state is a few hundred bytes; this bounds the cache to some megabytes.
const foldedStreamsKept = 50_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
