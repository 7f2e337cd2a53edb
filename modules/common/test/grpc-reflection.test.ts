/** Server reflection through startGrpcServer, asked over loopback the way grpcurl asks it. */
import * as grpc from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { LocationIngestDefinition, type LocationIngestServer } from '@udaconnect/proto';
import { createLogger, startGrpcServer, type GrpcServerHandle } from '../src';
import { healthStatus, reflect, reflectedServices } from '../../../test/support/grpc-probes';

const INGEST = 'udaconnect.location.v1.LocationIngest';
const logger = createLogger('grpc-reflection-test', process.env.TEST_LOG_LEVEL ?? 'silent');

const implementation: LocationIngestServer = {
  record: (call, callback) => callback(null, { eventId: call.request.eventId }),
  recordStream: (call, callback) => {
    call.on('data', () => undefined);
    call.on('end', () => callback(null, { accepted: 0, rejected: 0, rejections: [], rejectedByReason: {}, rejectionsTruncated: false }));
  },
  recordBatch: (call, callback) =>
    callback(null, { accepted: call.request.pings.length, rejected: 0, rejections: [], rejectedByReason: {}, rejectionsTruncated: false }),
};

let server: GrpcServerHandle;

beforeAll(async () => {
  server = await startGrpcServer({
    port: 0,
    host: '127.0.0.1',
    logger,
    services: [{ name: INGEST, definition: LocationIngestDefinition, implementation }],
  });
});

afterAll(() => server.shutdown(1_000));

/** The FileDescriptorProtos of one file_descriptor_response, first (the answer) first. */
function decodeFiles(res: any): FileDescriptorProto[] {
  expect(res.error_response).toBeUndefined();
  return res.file_descriptor_response.file_descriptor_proto.map((b: Buffer) => fromBinary(FileDescriptorProtoSchema, b));
}

async function fileContainingSymbol(symbol: string, version: 'v1' | 'v1alpha' = 'v1') {
  const [res] = await reflect(server.port, [{ file_containing_symbol: symbol }], version);
  return res;
}

describe.each(['v1', 'v1alpha'] as const)('grpc.reflection.%s', (version) => {
  it('lists only the services this server registered, health and reflection', async () => {
    expect(await reflectedServices(server.port, version)).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      INGEST,
    ]);
  });

  it('describes LocationIngest with the real file names and google/protobuf/timestamp.proto', async () => {
    const files = decodeFiles(await fileContainingSymbol(INGEST, version));
    expect(files.map((f) => f.name)).toEqual(['udaconnect/location/v1/location.proto', 'google/protobuf/timestamp.proto']);
    const [location] = files;
    expect(location!.dependency).toEqual(['google/protobuf/timestamp.proto']);
    const ping = location!.messageType.find((m) => m.name === 'LocationPing');
    expect(ping?.field.find((f) => f.name === 'recorded_at')?.typeName).toBe('.google.protobuf.Timestamp');
  });
});

describe('file_containing_symbol', () => {
  it('describes grpc.health.v1.Health, with the map entry grpcurl needs for HealthListResponse.statuses', async () => {
    const [health] = decodeFiles(await fileContainingSymbol('grpc.health.v1.Health'));
    expect(health!.package).toBe('grpc.health.v1');
    expect(health!.service.map((s) => s.name)).toEqual(['Health']);
    const list = health!.messageType.find((m) => m.name === 'HealthListResponse');
    expect(list?.field[0]?.typeName).toBe('.grpc.health.v1.HealthListResponse.StatusesEntry');
    expect(list?.nestedType[0]).toMatchObject({ name: 'StatusesEntry', options: { mapEntry: true } });
  });

  it.each([
    ['a method', 'udaconnect.location.v1.LocationIngest.RecordStream', 'udaconnect/location/v1/location.proto'],
    ['a message', 'udaconnect.location.v1.StreamSummary', 'udaconnect/location/v1/location.proto'],
    ['a field', 'udaconnect.location.v1.LocationPing.recorded_at', 'udaconnect/location/v1/location.proto'],
    ['a nested message', 'grpc.health.v1.HealthListResponse.StatusesEntry', 'health/v1/health.proto'],
    ['a nested enum', 'grpc.health.v1.HealthCheckResponse.ServingStatus', 'health/v1/health.proto'],
    ['a well-known type', 'google.protobuf.Timestamp', 'google/protobuf/timestamp.proto'],
    ['the reflection service itself', 'grpc.reflection.v1.ServerReflection', 'grpc/reflection/v1/reflection.proto'],
  ])('resolves %s to its file', async (_what, symbol, file) => {
    expect(decodeFiles(await fileContainingSymbol(symbol))[0]!.name).toBe(file);
  });

  it('answers NOT_FOUND for an unknown symbol', async () => {
    const res = await fileContainingSymbol('udaconnect.location.v1.NoSuchThing');
    expect(res.error_response).toEqual({ error_code: grpc.status.NOT_FOUND, error_message: expect.stringContaining('NoSuchThing') });
    expect(res.file_descriptor_response).toBeUndefined();
  });
});

describe('one stream', () => {
  it('answers each request in order, echoing it, with file_by_filename and the extension requests', async () => {
    const answers = await reflect(server.port, [
      { file_by_filename: 'google/protobuf/timestamp.proto' },
      { file_by_filename: 'no/such.proto' },
      { all_extension_numbers_of_type: 'udaconnect.location.v1.LocationPing' },
      { list_services: '' },
    ]);
    expect(answers).toHaveLength(4);
    expect(decodeFiles(answers[0]).map((f) => f.name)).toEqual(['google/protobuf/timestamp.proto']);
    expect(answers[0].original_request.file_by_filename).toBe('google/protobuf/timestamp.proto');
    expect(answers[1].error_response.error_code).toBe(grpc.status.NOT_FOUND);
    expect(answers[2].error_response.error_code).toBe(grpc.status.NOT_FOUND);
    expect(answers[3].list_services_response.service).toHaveLength(4);
  });
});

it('still serves health and the registered service next to reflection', async () => {
  expect(await healthStatus(server.port, INGEST)).toBe('SERVING');
});

it('refuses to start a server whose service the descriptor sets do not describe', async () => {
  await expect(
    startGrpcServer({
      port: 0,
      host: '127.0.0.1',
      logger,
      services: [{ name: 'udaconnect.nothing.v1.Nothing', definition: LocationIngestDefinition, implementation }],
    }),
  ).rejects.toThrow(/no descriptor for udaconnect\.nothing\.v1\.Nothing/);
});
