import { createLogger, installShutdown, loadConfigOrExit } from '@udaconnect/common';
import { locationWriterConfigSchema } from './config';
import { startLocationWriter } from './location-writer';

async function main() {
  const config = loadConfigOrExit('location-writer', locationWriterConfigSchema);
  const logger = createLogger('location-writer', config.LOG_LEVEL);
  const writer = await startLocationWriter(config, logger);
  logger.info(
    { port: writer.port, topic: config.LOCATIONS_TOPIC, dlq: config.LOCATIONS_DLQ_TOPIC, groupId: config.KAFKA_GROUP_ID },
    `location-writer consuming; health on http://localhost:${writer.port}/readyz`,
  );
  // SIGTERM: stop consuming (the batch in flight is finished and committed), then close HTTP, database, Kafka.
  installShutdown(logger, writer.shutdownSteps);
  // kafkajs gave up (it restarts itself on retriable errors): exit so Kubernetes restarts us.
  writer.onCrash((err) => {
    logger.fatal({ err }, 'Kafka consumer crashed for good; exiting');
    process.exit(1);
  });
}

main().catch((err) => {
  process.stderr.write(`location-writer: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
