/**
 * In-memory stand-ins for person-api's collaborators, so route and validation tests run without
 * Kafka (integration tests pass `kafka: true` to the harness and get the real publisher).
 */
import type { Knex } from 'knex';
import type { LocationPing } from '@udaconnect/domain';
import type { PingPublishing } from '../src/pings';

export class InMemoryPingPublishing implements PingPublishing {
  /** Every ping handed over, in order. */
  readonly published: LocationPing[] = [];
  /** While false, publish() fails as a Kafka outage does and isReachable() says so. */
  reachable = true;

  constructor(private readonly knex: Knex) {}

  readonly publisher = {
    publish: async (ping: LocationPing) => {
      if (!this.reachable) throw new Error('Kafka is unreachable (in-memory publisher switched off)');
      this.published.push(ping);
    },
  };

  /** The person check reads the test database, as the real cache does on a miss. */
  readonly personDirectory = {
    exists: async (personId: number) => Boolean(await this.knex('person').where({ id: personId }).first('id')),
    forget: () => undefined,
  };

  isReachable = async () => this.reachable;
  close = async () => undefined;
}
