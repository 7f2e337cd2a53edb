/**
 * Attendee tokens are issued per device, so one phone can be cut off without touching the
 * others: the token's jti is the device id, and DELETE /api/devices/{id} revokes it everywhere
 * (each service re-reads the revoked ids at least once a minute; person-api at once).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { notFound, parseDuration, type Knex, type Principal, type RevocationList, type TokenSigner } from '@udaconnect/common';
import { access } from './http/access';
import { addRoute, jsonResponse, problemResponse, type RouteContext } from './http/typed-routes';
import type { PersonRepository } from './person-repository';
import { personIdParams, personSchema } from './person-schemas';
import { decimalRangeGroup, text, uuid } from './http/fields';

const MAX_DEVICE_TTL_SECONDS = 366 * 86_400;

/** 1 s to 366 days as seconds (with or without "s"), minutes, hours or days: "90s", "15m", "12h", "30d". */
const TTL_SOURCE =
  `^(?:${decimalRangeGroup(1, MAX_DEVICE_TTL_SECONDS)}s?|${decimalRangeGroup(1, MAX_DEVICE_TTL_SECONDS / 60)}m|` +
  `${decimalRangeGroup(1, MAX_DEVICE_TTL_SECONDS / 3600)}h|${decimalRangeGroup(1, MAX_DEVICE_TTL_SECONDS / 86_400)}d)$`;

const newDeviceSchema = z
  .strictObject({
    label: text(100, 'What the device is, for the organizers').optional(),
    ttl: z
      .string()
      .regex(new RegExp(TTL_SOURCE), 'must be a duration from 1s to 366d written like 90s, 15m, 12h or 30d (no spaces, no leading zeros)')
      .transform(parseDuration)
      .optional()
      .meta({ description: 'Token lifetime from 1s to 366d: 90s, 15m, 12h, 30d, … (default: DEVICE_TOKEN_TTL, 30d)', example: '30d' }),
  })
  .optional()
  .meta({ id: 'NewDevice' });

const deviceSchema = z
  .object({
    device_id: z.uuid(),
    person_id: z.number().int(),
    label: z.string().nullable(),
    created_at: z.string(),
    expires_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .meta({ id: 'Device' });

const issuedDeviceSchema = z
  .object({
    device_id: z.uuid(),
    person_id: z.number().int(),
    expires_at: z.string(),
    token: z.string().meta({ description: "The attendee token: send it as 'Authorization: Bearer <token>'" }),
  })
  .meta({ id: 'IssuedDevice' });

const meSchema = z
  .object({
    role: z.enum(['organizer', 'attendee']),
    subject: z.string(),
    person_id: z.number().int().nullable(),
    person: personSchema.optional(),
    device_id: z.uuid().optional(),
    expires_at: z.string(),
  })
  .meta({ id: 'Me' });

type DeviceRow = { id: string; person_id: number; label: string | null; created_at: Date; expires_at: Date; revoked_at: Date | null };
const toDevice = (r: DeviceRow) => ({
  device_id: r.id,
  person_id: r.person_id,
  label: r.label,
  created_at: r.created_at.toISOString(),
  expires_at: r.expires_at.toISOString(),
  revoked_at: r.revoked_at ? r.revoked_at.toISOString() : null,
});

export interface DeviceRouteDeps {
  knex: Knex;
  persons: PersonRepository;
  signer: TokenSigner;
  revocations: RevocationList;
  defaultTtlSeconds: number;
}

export function addDeviceRoutes(ctx: RouteContext, { knex, persons, signer, revocations, defaultTtlSeconds }: DeviceRouteDeps): void {
  const tags = ['Devices and tokens'];
  addRoute(ctx, {
    method: 'post',
    path: '/api/persons/{id}/devices',
    summary: 'Register a device for a person and issue its attendee token',
    description: 'The token is shown once; store it on the device. Revoke it with DELETE /api/devices/{device_id}.',
    tags,
    access: access.organizer,
    params: personIdParams,
    body: newDeviceSchema,
    responses: {
      201: jsonResponse('The device and its token', issuedDeviceSchema),
      400: problemResponse('Bad label or ttl'),
      404: problemResponse('No person with this id'),
    },
    handler: async ({ params, body, principal, res }) => {
      if (!(await persons.findById(params.id))) throw notFound(`No person with id ${params.id}`);
      const ttlSeconds = body?.ttl ?? defaultTtlSeconds;
      const id = randomUUID();
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      await knex('device').insert({ id, person_id: params.id, label: body?.label ?? null, expires_at: expiresAt });
      const { token } = await signer.sign({ role: 'attendee', subject: `device:${id}`, personId: params.id, deviceId: id, ttlSeconds });
      ctx.logger.info({ device_id: id, person_id: params.id, by: principal!.subject }, 'device token issued');
      res.status(201).location(`/api/devices/${id}`).json({ device_id: id, person_id: params.id, expires_at: expiresAt.toISOString(), token });
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/persons/{id}/devices',
    summary: "A person's devices (never their tokens)",
    tags,
    access: access.organizer,
    params: personIdParams,
    responses: { 200: jsonResponse('The devices, newest first', z.array(deviceSchema)), 404: problemResponse('No person with this id') },
    handler: async ({ params, res }) => {
      if (!(await persons.findById(params.id))) throw notFound(`No person with id ${params.id}`);
      const rows = await knex<DeviceRow>('device')
        .where({ person_id: params.id })
        .orderBy([{ column: 'created_at', order: 'desc' }, 'id'])
        .limit(1000);
      res.json(rows.map(toDevice));
    },
  });
  addRoute(ctx, {
    method: 'delete',
    path: '/api/devices/{device_id}',
    summary: "Revoke a device's token",
    description: 'Every service refuses the token within 60 s (person-api at once). Revoking twice is not an error.',
    tags,
    access: access.organizer,
    params: z.object({ device_id: uuid('must be a device id (UUID)').meta({ param: { in: 'path' } }) }),
    responses: { 204: { description: 'Revoked' }, 400: problemResponse('Not a device id'), 404: problemResponse('No device with this id') },
    handler: async ({ params, principal, res }) => {
      const rows: DeviceRow[] = await knex('device')
        .where({ id: params.device_id })
        .update({ revoked_at: knex.raw('coalesce(revoked_at, now())') }, ['id']);
      if (rows.length === 0) throw notFound(`No device with id ${params.device_id}`);
      revocations.add(params.device_id);
      ctx.logger.info({ device_id: params.device_id, by: principal!.subject }, 'device token revoked');
      res.status(204).end();
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/me',
    summary: 'Who this token speaks for',
    tags,
    access: access.signedIn,
    responses: { 200: jsonResponse('The caller', meSchema) },
    handler: async ({ principal, res }) => {
      const p = principal as Exclude<Principal, { role: 'service' }>;
      const base = { role: p.role, subject: p.subject, expires_at: p.expiresAt.toISOString() };
      if (p.role === 'organizer') return void res.json({ ...base, person_id: null });
      const person = await persons.findById(p.personId);
      res.json({ ...base, person_id: p.personId, device_id: p.deviceId, ...(person ? { person } : {}) });
    },
  });
}
