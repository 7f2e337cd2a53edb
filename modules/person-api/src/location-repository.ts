import type { Knex } from '@udaconnect/common';
import type { Location } from './location-schemas';

/** The API's Location shape; seconds-only times print without ".000" as the old API did. */
const LOCATION_COLUMNS = `l.id, l.person_id,
  ST_Y(l.coordinate::geometry)::text AS latitude,
  ST_X(l.coordinate::geometry)::text AS longitude,
  l.creation_time`;

/** A row selected with LOCATION_COLUMNS. */
interface LocationRow {
  id: number;
  person_id: number;
  latitude: string;
  longitude: string;
  creation_time: Date;
}

function toLocation(row: LocationRow): Location {
  return {
    id: Number(row.id),
    person_id: row.person_id,
    latitude: row.latitude,
    longitude: row.longitude,
    creation_time: row.creation_time.toISOString().replace('.000Z', 'Z'),
  };
}

export function locationRepository(knex: Knex) {
  return {
    async findById(id: number): Promise<Location | undefined> {
      const { rows } = await knex.raw<{ rows: LocationRow[] }>(`SELECT ${LOCATION_COLUMNS} FROM location l WHERE l.id = ?`, [id]);
      return rows[0] ? toLocation(rows[0]) : undefined;
    },
    async forPerson(personId: number, range: { start?: Date; end?: Date }, limit: number, offset: number): Promise<Location[]> {
      const { rows } = await knex.raw<{ rows: LocationRow[] }>(
        `SELECT ${LOCATION_COLUMNS} FROM location l
          WHERE l.person_id = ?
            AND (?::timestamptz IS NULL OR l.creation_time >= ?::timestamptz)
            AND (?::timestamptz IS NULL OR l.creation_time < ?::timestamptz)
          ORDER BY l.creation_time, l.id
          LIMIT ? OFFSET ?`,
        [personId, range.start ?? null, range.start ?? null, range.end ?? null, range.end ?? null, limit, offset],
      );
      return rows.map(toLocation);
    },
  };
}
