/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha: grpcurl asks v1, then falls back
 * to v1alpha), answered from FileDescriptorSets that `buf build` writes
 * (`descriptorSetFiles` in @udaconnect/proto, made by `npm run proto:gen`).
 *
 * Why not @grpc/reflection: it describes what @grpc/proto-loader parsed, and protobufjs
 * turns that into one synthetic file per package ("udaconnect_location_v1.proto") with
 * relative type names, no real imports and no map entry messages, so grpcurl cannot
 * resolve google.protobuf.Timestamp nor accept map fields. buf's descriptors are what
 * protoc makes: real file names, real dependencies, fully qualified type names.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';

const VERSIONS = ['v1', 'v1alpha'] as const;
export const REFLECTION_SERVICE_NAMES = VERSIONS.map((v) => `grpc.reflection.${v}.ServerReflection`);

/** Both versions' messages are the same on the wire; with keepCase the JS objects look like this. */
interface ReflectionRequest {
  host?: string;
  message_request?: 'file_by_filename' | 'file_containing_symbol' | 'file_containing_extension' | 'all_extension_numbers_of_type' | 'list_services';
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
}

/** The files of some descriptor sets by name, and which file declares each fully qualified name. */
export class DescriptorIndex {
  private readonly files = new Map<string, { proto: FileDescriptorProto; bytes: Uint8Array }>();
  private readonly symbols = new Map<string, string>();

  constructor(descriptorSets: Uint8Array[]) {
    for (const set of descriptorSets) {
      for (const file of fromBinary(FileDescriptorSetSchema, set).file) {
        if (this.files.has(file.name)) continue; // e.g. an import that two sets both include
        this.files.set(file.name, { proto: file, bytes: toBinary(FileDescriptorProtoSchema, file) });
        const scope = file.package ? `${file.package}.` : '';
        for (const s of file.service) {
          this.symbols.set(scope + s.name, file.name);
          for (const m of s.method) this.symbols.set(`${scope}${s.name}.${m.name}`, file.name);
        }
        for (const e of file.extension) this.symbols.set(scope + e.name, file.name);
        this.addMessages(file.messageType, scope, file.name);
        this.addEnums(file.enumType, scope, file.name);
      }
    }
  }

  private addMessages(messages: DescriptorProto[], scope: string, file: string) {
    for (const m of messages) {
      const name = scope + m.name;
      this.symbols.set(name, file);
      for (const f of [...m.field, ...m.extension]) this.symbols.set(`${name}.${f.name}`, file);
      this.addMessages(m.nestedType, `${name}.`, file);
      this.addEnums(m.enumType, `${name}.`, file);
    }
  }

  private addEnums(enums: EnumDescriptorProto[], scope: string, file: string) {
    for (const e of enums) {
      this.symbols.set(scope + e.name, file);
      // Enum values are siblings of their enum (C++ scoping), e.g. grpc.health.v1.HealthCheckResponse.SERVING.
      for (const v of e.value) this.symbols.set(scope + v.name, file);
    }
  }

  has(symbol: string): boolean {
    return this.symbols.has(symbol);
  }

  /** The file that declares `symbol`, then everything it imports, directly or not. */
  fileContainingSymbol(symbol: string): Uint8Array[] | undefined {
    const file = this.symbols.get(symbol);
    return file === undefined ? undefined : this.fileByName(file);
  }

  /**
   * The file first (clients take the first one as the answer), then its transitive
   * dependencies, each once, so the client can build it without asking again.
   */
  fileByName(name: string): Uint8Array[] | undefined {
    if (!this.files.has(name)) return undefined;
    const seen = new Set<string>(); // keeps insertion order
    const visit = (n: string) => {
      const file = this.files.get(n);
      if (!file || seen.has(n)) return;
      seen.add(n);
      for (const dep of file.proto.dependency) visit(dep);
    };
    visit(name);
    return [...seen].map((n) => this.files.get(n)!.bytes);
  }
}

/**
 * Adds both reflection services to `server`. `services` are the names list_services
 * reports (the reflection services are added here); each must be described by the
 * descriptor sets, so that a client can always describe what it is told exists.
 */
export function addReflection(server: grpc.Server, opts: { services: string[]; descriptorSets: Uint8Array[] }): void {
  const index = new DescriptorIndex(opts.descriptorSets);
  const services = [...new Set([...opts.services, ...REFLECTION_SERVICE_NAMES])].sort();
  const undescribed = services.filter((s) => !index.has(s));
  if (undescribed.length > 0) throw new Error(`reflection: no descriptor for ${undescribed.join(', ')}; run npm run proto:gen`);

  const error = (code: grpc.status, message: string) => ({ error_response: { error_code: code, error_message: message } });
  const files = (found: Uint8Array[] | undefined, what: string) =>
    found ? { file_descriptor_response: { file_descriptor_proto: found.map((b) => Buffer.from(b)) } } : error(grpc.status.NOT_FOUND, `${what} not found`);

  const answer = (req: ReflectionRequest) => {
    switch (req.message_request) {
      case 'list_services':
        return { list_services_response: { service: services.map((name) => ({ name })) } };
      case 'file_by_filename':
        return files(index.fileByName(req.file_by_filename ?? ''), `file ${JSON.stringify(req.file_by_filename)}`);
      case 'file_containing_symbol':
        return files(index.fileContainingSymbol(req.file_containing_symbol ?? ''), `symbol ${JSON.stringify(req.file_containing_symbol)}`);
      case 'file_containing_extension':
      case 'all_extension_numbers_of_type':
        // Our protos are proto3 and declare no extensions; clients only ask for messages with extension ranges.
        return error(grpc.status.NOT_FOUND, 'this server has no extensions');
      default:
        return error(grpc.status.INVALID_ARGUMENT, 'empty or unknown message_request');
    }
  };

  // The transport for the reflection service itself: its .proto files ship in @grpc/reflection.
  const protoRoot = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');
  const loaded = grpc.loadPackageDefinition(
    protoLoader.loadSync(
      VERSIONS.map((v) => `grpc/reflection/${v}/reflection.proto`),
      { includeDirs: [protoRoot], keepCase: true, oneofs: true },
    ),
  ) as unknown as { grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> } };
  for (const v of VERSIONS) {
    server.addService(loaded.grpc.reflection[v]!.ServerReflection.service, {
      ServerReflectionInfo: (call: grpc.ServerDuplexStream<ReflectionRequest, object>) => {
        call.on('data', (req: ReflectionRequest) => call.write({ valid_host: req.host ?? '', original_request: req, ...answer(req) }));
        call.on('end', () => call.end());
      },
    });
  }
}
