import type { Knex } from '@udaconnect/common';
import type { NewPerson, Person, PersonChanges, PersonSummary } from './person-schemas';

const COLUMNS = ['id', 'first_name', 'last_name', 'company_name', 'discoverable'] as const;

/** What DELETE /api/persons/{id} removed. */
export interface Erasure {
  locations: number;
  devices: number;
}

export function personRepository(knex: Knex) {
  return {
    async list(limit: number, offset: number): Promise<Person[]> {
      return knex<Person>('person')
        .select(...COLUMNS)
        .orderBy('id')
        .limit(limit)
        .offset(offset);
    },
    async count(): Promise<number> {
      const [row] = await knex('person').count<{ count: string | number }[]>('* as count');
      return Number(row!.count);
    },
    async findById(id: number): Promise<Person | undefined> {
      return knex<Person>('person')
        .select(...COLUMNS)
        .where({ id })
        .first();
    },
    /** The discoverable ones among `ids`, as others see them (PersonSummary), by id. */
    async findSummaries(ids: readonly number[]): Promise<PersonSummary[]> {
      if (ids.length === 0) return [];
      return knex<Person>('person')
        .select('id', 'first_name', 'last_name', 'company_name')
        .whereIn('id', [...ids])
        .andWhere('discoverable', true)
        .orderBy('id');
    },
    async create(person: NewPerson): Promise<Person> {
      const [row] = await knex<Person>('person').insert(person).returning(COLUMNS);
      return row!;
    },
    /** The person after the change, or undefined when there is no such person. */
    async update(id: number, changes: PersonChanges): Promise<Person | undefined> {
      const [row] = await knex<Person>('person').where({ id }).update(changes).returning(COLUMNS);
      return row;
    },
    /**
     * Removes the person, every ping and every device (token) of theirs, in one transaction, and
     * records the id in erased_person (nothing else), so the writer drops their pings still in
     * Kafka and every service refuses their tokens. The person's row is locked first: a writer
     * insert of their pings in flight (its foreign-key check holds a KEY SHARE lock) commits
     * before the delete reads location, and one that starts later waits, then fails its
     * foreign-key check and drops the pings as erased. Undefined: no such person.
     */
    async erase(id: number): Promise<Erasure | undefined> {
      return knex.transaction(async (trx) => {
        const found = await trx<{ id: number }>('person').where({ id }).forUpdate().first('id');
        if (!found) return undefined;
        const locations = await trx('location').where({ person_id: id }).delete();
        const devices = await trx('device').where({ person_id: id }).delete();
        await trx('person').where({ id }).delete();
        await trx('erased_person').insert({ person_id: id }).onConflict('person_id').ignore();
        return { locations, devices };
      });
    },
  };
}

export type PersonRepository = ReturnType<typeof personRepository>;
