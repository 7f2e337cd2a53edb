import type { Server } from 'node:http';
import type { Logger } from './logger';

export interface ShutdownStep {
  name: string;
  /** May return a promise: it is awaited. */
  run: () => unknown;
}

/** Runs the steps in order; a step that fails is logged and the rest still run. True when all succeeded. */
export async function runShutdownSteps(logger: Logger, steps: readonly ShutdownStep[]): Promise<boolean> {
  let ok = true;
  for (const step of steps) {
    try {
      await step.run();
      logger.debug({ step: step.name }, 'shutdown step done');
    } catch (err) {
      ok = false;
      logger.error({ err, step: step.name }, 'shutdown step failed');
    }
  }
  return ok;
}

/**
 * On SIGTERM/SIGINT: runs the steps in order (stop accepting → drain → close clients), then
 * exits 0. A step that fails is logged and the rest still run; if the whole drain takes
 * longer than `timeoutMs`, or a second signal arrives, the process exits 1 at once.
 * Returns the shutdown function, so tests and fatal-error paths can call it too.
 */
export function installShutdown(logger: Logger, steps: ShutdownStep[], timeoutMs = 20_000): (reason: string) => Promise<void> {
  let shuttingDown = false;
  const shutdown = async (reason: string) => {
    if (shuttingDown) {
      logger.warn({ reason }, 'second shutdown request, exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    const ok = await runShutdownSteps(logger, steps);
    clearTimeout(timer);
    logger.info('stopped');
    process.exit(ok ? 0 : 1);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}

/** Stops accepting connections, lets in-flight requests finish, closes idle keep-alives. */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}

/** Listens on `port` (0 = any free port) and resolves with the port actually bound. */
export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
