import type { Knex } from '@udaconnect/common';
import type { NewPerson, Person } from './person-schemas';

const COLUMNS = ['id', 'first_name', 'last_name', 'company_name'] as const;

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
    async create(person: NewPerson): Promise<Person> {
      const [row] = await knex<Person>('person').insert(person).returning(COLUMNS);
      return row!;
    },
  };
}

export type PersonRepository = ReturnType<typeof personRepository>;
