import type { Consumer } from 'kafkajs';

/**
 * Whether a kafkajs consumer is consuming, from its own events: a crash that kafkajs does not
 * restart from, or a stop, leaves the worker alive but idle, and readiness must say so.
 */
export class ConsumerHealth {
  private problem: string | undefined = 'has not joined its group yet';
  /** Set once kafkajs will not run the consumer again. */
  private final = false;

  constructor(consumer: Pick<Consumer, 'on' | 'events'>) {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!this.final) this.problem = undefined;
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.problem = payload.restart
        ? `crashed and is restarting: ${payload.error.message}`
        : `crashed for good: ${payload.error.message}`;
      this.final ||= !payload.restart;
    });
    consumer.on(consumer.events.STOP, () => {
      this.problem = 'has stopped';
      this.final = true;
    });
  }

  /** Throws, naming what is wrong, unless the consumer is in its group and running. */
  check(): void {
    if (this.problem) throw new Error(`the media-upload consumer ${this.problem}`);
  }
}
