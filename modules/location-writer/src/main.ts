import { runService } from '@udaconnect/common';
import { locationWriterConfigSchema } from './config';
import { startLocationWriter } from './location-writer';

runService('location-writer', locationWriterConfigSchema, async (config, logger) => {
  const writer = await startLocationWriter(config, logger);
  logger.info(
    { port: writer.port, topic: config.LOCATIONS_TOPIC, dlq: config.LOCATIONS_DLQ_TOPIC, groupId: config.KAFKA_GROUP_ID },
    `location-writer started (joins its consumer group in the background); health on http://localhost:${writer.port}/readyz`,
  );
  // kafkajs gave up (it restarts itself on retriable errors): exit so Kubernetes restarts us.
  writer.onCrash((err) => {
    logger.fatal({ err }, 'Kafka consumer crashed for good; exiting');
    process.exit(1);
  });
  // SIGTERM: stop the partition upkeep, retention and presence runs, stop consuming (the batch in flight is finished and committed), then close HTTP, database, Kafka.
  return { shutdownSteps: writer.shutdownSteps };
});
