/**
 * The services `npm start` runs, each as its own process, and how to tell they are up.
 * New services join this list as they land.
 */
export interface ServiceSpec {
  name: string;
  entry: string;
  /** Port whose answer means "started"; also printed as the URL for HTTP services. */
  port: number;
  url?: string;
  env?: Record<string, string>;
}

export const services: ServiceSpec[] = [
  { name: 'frontend', entry: 'modules/frontend/server/main.ts', port: 30000, url: 'http://localhost:30000/' },
  { name: 'person-api', entry: 'modules/person-api/src/main.ts', port: 30001, url: 'http://localhost:30001/' },
  { name: 'location-ingest', entry: 'modules/location-ingest/src/main.ts', port: 30002, url: 'grpc://localhost:30002' },
  { name: 'connection-service', entry: 'modules/connection-service/src/main.ts', port: 30003, url: 'grpc://localhost:30003 (internal)' },
  { name: 'location-writer', entry: 'modules/location-writer/src/main.ts', port: 30004, url: 'http://localhost:30004/metrics' },
];
