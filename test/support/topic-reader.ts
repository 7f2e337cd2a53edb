/** Reads a topic from its beginning in a group of its own, for tests that look at what was published. */
import { createKafkaBus, createLogger, type IncomingMessage } from '@udaconnect/common';
import { decodePing } from '@udaconnect/domain';
import { infraEnv, runId } from './test-env';

/** The message of each of `eventIds` on `topic` (waits until all have arrived, up to `timeoutMs`). */
export async function messagesOfPings(topic: string, eventIds: string[], timeoutMs = 30_000): Promise<Map<string, IncomingMessage>> {
  const bus = createKafkaBus({ brokers: infraEnv().kafkaBrokers.split(','), clientId: 'topic-reader', logger: createLogger('topic-reader', 'silent') });
  const consumer = bus.consumer({ groupId: `test.${runId()}.reader.${Date.now()}.${process.pid}` });
  const found = new Map<string, IncomingMessage>();
  const wanted = new Set(eventIds);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${found.size} of ${wanted.size} pings found on ${topic}`)), timeoutMs);
      consumer.onCrash(reject);
      consumer
        .run([topic], async (batch) => {
          for (const m of batch.messages) {
            const eventId = decodePing(m.value).eventId;
            if (wanted.has(eventId)) found.set(eventId, m);
          }
          if (found.size === wanted.size) resolve();
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.close();
    await bus.close();
  }
  return found;
}
