/**
 * @udaconnect/domain: the rules of location pings every transport shares (topics, validation,
 * admission, the Kafka encoding, the batching publisher and its background connection, the person cache) and small numeric
 * helpers. Infrastructure (config, logging, database, Kafka client, gRPC and HTTP plumbing, auth)
 * is @udaconnect/common.
 */
export * from './pings';
export * from './publishing';
export * from './ping-metrics';
export * from './geo';
export * from './presence';
export * from './meetings';
