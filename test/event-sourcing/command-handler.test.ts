import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  ConcurrentChangeError,
  createCommandHandler,
  type CommandRequest,
  type Decider,
  type StoredEvents,
} from '../../src/event-sourcing/command-handler.ts';
import type { EventStore } from '../../src/event-sourcing/event-store.ts';
import { InMemoryEventStore } from '../../src/infra/event-store/in-memory-event-store.ts';

/** A small decider of its own, so that nothing here depends on the S3 domain: seats at a table. */
type SeatCommand = { type: 'Reserve' | 'Release'; seat: string; guest: string };
type SeatEvent = { type: 'SeatReserved' | 'SeatReleased'; data: { seat: string; guest: string } };
type Seats = { held: Record<string, string>; unknownEvents: number };

class SeatTaken extends Error {}

const seats: Decider<SeatCommand, Seats, SeatEvent> = {
  initialState: { held: {}, unknownEvents: 0 },
  decide({ type, seat, guest }, { held }) {
    if (type === 'Release') {
      return held[seat] === guest ? [{ type: 'SeatReleased', data: { seat, guest } }] : [];
    }
    if (held[seat] === guest) return [];
    if (held[seat] !== undefined) throw new SeatTaken(`${seat} is taken by ${held[seat]}`);
    return [{ type: 'SeatReserved', data: { seat, guest } }];
  },
  evolve(state, { type, data }) {
    const held = { ...state.held };
    if (type === 'SeatReserved') held[data.seat] = data.guest;
    else delete held[data.seat];
    return { ...state, held };
  },
};

const storedSeats: StoredEvents<Seats, SeatEvent> = {
  toStored: (event) => ({ type: event.type, data: event.data }),
  fromStored: ({ type, data }) =>
    type === 'SeatReserved' || type === 'SeatReleased'
      ? { type, data: data as SeatEvent['data'] }
      : undefined,
  passUnknown: (state) => ({ ...state, unknownEvents: state.unknownEvents + 1 }),
};

const stream = 'table-7';

/** One process's handler over a shared store, recording what its commands' hooks were told. */
function apiProcess(eventStore: EventStore, maxAttempts?: number) {
  const handle = createCommandHandler({
    eventStore,
    decider: seats,
    stored: storedSeats,
    isRejection: (error) => error instanceof SeatTaken,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
  const seen = { prepared: 0, dropped: 0, appended: [] as SeatEvent[] };
  const request = (command: SeatCommand): CommandRequest<SeatCommand, Seats, SeatEvent> => ({
    prepare: async () => {
      seen.prepared++;
      return {
        command,
        dropped: async () => void seen.dropped++,
        appended: async (events) => void seen.appended.push(...events),
      };
    },
    metadata: { requestId: 'req-1' },
  });
  return { when: (command: SeatCommand) => handle(stream, request(command)), seen };
}

/** The store as one process sees it, with each append counted before it reaches the store. */
function counting(store: EventStore, beforeAppend: () => Promise<void> = async () => {}) {
  const counted = {
    appends: 0,
    readStream: store.readStream.bind(store),
    async appendToStream(...args: Parameters<EventStore['appendToStream']>) {
      counted.appends++;
      await beforeAppend();
      return store.appendToStream(...args);
    },
  };
  return counted;
}

const reserve = (seat: string, guest: string): SeatCommand => ({ type: 'Reserve', seat, guest });
const release = (seat: string, guest: string): SeatCommand => ({ type: 'Release', seat, guest });

async function given(store: EventStore, ...commands: SeatCommand[]): Promise<void> {
  const other = apiProcess(store);
  for (const command of commands) await other.when(command);
}

async function thenStream(store: EventStore, expected: [SeatEvent['type'], string, string][]) {
  const events = await store.readStream(stream);
  assert.deepEqual(
    events.map(({ type, data }) => [type, data.seat, data.guest]),
    expected,
  );
  assert.deepEqual(
    events.map((event) => event.revision),
    expected.map((_, revision) => revision),
  );
}

describe('the generic command handler', () => {
  test('appends the decided events at the stream revision and answers the new state', async () => {
    const store = new InMemoryEventStore();
    await given(store, reserve('a', 'ann'));
    const { when, seen } = apiProcess(store);

    const outcome = await when(reserve('b', 'bob'));

    await thenStream(store, [
      ['SeatReserved', 'a', 'ann'],
      ['SeatReserved', 'b', 'bob'],
    ]);
    assert.deepEqual(outcome.state.held, { a: 'ann', b: 'bob' });
    assert.equal(outcome.revision, 1);
    assert.deepEqual(outcome.position, (await store.readStream(stream))[1]!.position);
    assert.deepEqual((await store.readStream(stream))[1]!.metadata, { requestId: 'req-1' });
    assert.deepEqual(seen.appended, [{ type: 'SeatReserved', data: { seat: 'b', guest: 'bob' } }]);
  });

  test('a repeat appends nothing and answers the current state without a position', async () => {
    const store = new InMemoryEventStore();
    await given(store, reserve('a', 'ann'));
    const { when, seen } = apiProcess(store);

    const outcome = await when(reserve('a', 'ann'));

    await thenStream(store, [['SeatReserved', 'a', 'ann']]);
    assert.equal(outcome.position, undefined);
    assert.equal(outcome.revision, 0);
    assert.equal(seen.dropped, 1);
  });

  test('a kept state gone stale conflicts on append; the retry on the refolded stream lands', async () => {
    const store = new InMemoryEventStore();
    const counted = counting(store);
    const a = apiProcess(counted);
    await a.when(reserve('a', 'ann'));
    await given(store, reserve('b', 'bob'));

    const outcome = await a.when(reserve('c', 'cy'));

    await thenStream(store, [
      ['SeatReserved', 'a', 'ann'],
      ['SeatReserved', 'b', 'bob'],
      ['SeatReserved', 'c', 'cy'],
    ]);
    assert.equal(counted.appends, 3, 'the first append, the refused one, the retry');
    assert.deepEqual(outcome.state.held, { a: 'ann', b: 'bob', c: 'cy' });
    assert.equal(a.seen.dropped, 1, 'the attempt that lost was told');
  });

  test('a repeat on a kept state is decided again on the stream brought up to date', async () => {
    const store = new InMemoryEventStore();
    const a = apiProcess(store);
    await a.when(reserve('a', 'ann'));
    await given(store, release('a', 'ann'));

    await a.when(reserve('a', 'ann'));

    await thenStream(store, [
      ['SeatReserved', 'a', 'ann'],
      ['SeatReleased', 'a', 'ann'],
      ['SeatReserved', 'a', 'ann'],
    ]);
  });

  test('a refusal on a kept state is decided again on the stream brought up to date', async () => {
    const store = new InMemoryEventStore();
    const a = apiProcess(store);
    await a.when(reserve('a', 'ann'));
    await given(store, release('a', 'ann'));

    await a.when(reserve('a', 'bob'));

    await thenStream(store, [
      ['SeatReserved', 'a', 'ann'],
      ['SeatReleased', 'a', 'ann'],
      ['SeatReserved', 'a', 'bob'],
    ]);
  });

  test('a repeat or a refusal on a kept state the stream confirms stands, prepared once', async () => {
    const store = new InMemoryEventStore();
    const a = apiProcess(store);
    await a.when(reserve('a', 'ann'));
    const preparedBefore = a.seen.prepared;

    const repeat = await a.when(reserve('a', 'ann'));
    await assert.rejects(a.when(reserve('a', 'bob')), SeatTaken);

    assert.equal(repeat.position, undefined);
    assert.equal(repeat.revision, 0);
    assert.equal(a.seen.prepared - preparedBefore, 2, 'one preparation per command');
    assert.equal(a.seen.dropped, 2);
    await thenStream(store, [['SeatReserved', 'a', 'ann']]);
  });

  test('a refusal on the current state reaches the caller and appends nothing', async () => {
    const store = new InMemoryEventStore();
    await given(store, reserve('a', 'ann'));
    const { when, seen } = apiProcess(store);

    await assert.rejects(when(reserve('a', 'bob')), SeatTaken);

    await thenStream(store, [['SeatReserved', 'a', 'ann']]);
    assert.equal(seen.dropped, 1);
  });

  test('losing every append up to maxAttempts is a ConcurrentChangeError', async () => {
    const store = new InMemoryEventStore();
    await given(store, reserve('a', 'ann'));
    const rival = apiProcess(store);
    let rivalSeat = 0;
    // Another process appends just before each of this one's appends.
    const counted = counting(
      store,
      async () => void (await rival.when(reserve(`r${rivalSeat++}`, 'rex'))),
    );
    const { when, seen } = apiProcess(counted, 3);

    await assert.rejects(when(reserve('b', 'bob')), ConcurrentChangeError);

    assert.equal(counted.appends, 3);
    assert.equal(seen.prepared, 3);
    assert.equal(seen.dropped, 3);
    assert.equal((await store.readStream(stream)).length, 4, "only the rival's events");
  });

  test('commands on one stream from one handler are queued, so they never conflict', async () => {
    const store = new InMemoryEventStore();
    const counted = counting(store);
    const { when } = apiProcess(counted);

    await Promise.all(Array.from({ length: 20 }, (_, n) => when(reserve(`s${n}`, 'ann'))));

    assert.equal(counted.appends, 20);
    assert.equal((await store.readStream(stream)).length, 20);
  });

  test('an event of a type this version does not know still counts toward the revision', async () => {
    const store = new InMemoryEventStore();
    await given(store, reserve('a', 'ann'));
    await store.appendToStream(
      stream,
      [{ id: randomUUID(), type: 'TableMoved', data: {}, metadata: {} }],
      0,
    );
    const { when } = apiProcess(store);

    const outcome = await when(reserve('b', 'bob'));

    assert.equal(outcome.revision, 2);
    assert.equal(outcome.state.unknownEvents, 1);
  });

  test('an append that fails otherwise may have committed: the command is not told it was dropped', async () => {
    const store = new InMemoryEventStore();
    const { when, seen } = apiProcess({
      readStream: store.readStream.bind(store),
      async appendToStream(...args) {
        await store.appendToStream(...args);
        throw new Error('connection lost before the answer');
      },
    });

    await assert.rejects(when(reserve('a', 'ann')), /connection lost/);

    assert.equal(seen.dropped, 0);
    assert.deepEqual(seen.appended, []);
  });
});
