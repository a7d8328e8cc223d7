import assert from 'node:assert/strict';

/**
 * Given/when/then for a Decider, after Emmett's DeciderSpecification: given past events, when a
 * command is decided, then these events (or this rejection).
 */
export function deciderSpecification<Command, Event, State>(decider: {
  decide: (command: Command, state: State) => Event[];
  evolve: (state: State, event: Event) => State;
  initialState: State;
}) {
  return (given: Event[]) => ({
    when: (command: Command) => {
      const run = () => decider.decide(command, given.reduce(decider.evolve, decider.initialState));
      return {
        then: (expected: Event[]) => assert.deepEqual(run(), expected),
        thenNothingHappens: () => assert.deepEqual(run(), []),
        thenRejects: (check: (error: Error) => boolean) => assert.throws(run, check),
      };
    },
  });
}
