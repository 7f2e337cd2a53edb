import type { z } from 'zod';
import { loadConfigOrExit } from './config';
import { createLogger, type Logger } from './logger';
import { installShutdown, type ShutdownStep } from './shutdown';
import { startTracing } from './tracing';

export interface StartedService {
  /** Run in order on SIGTERM/SIGINT: stop accepting work, drain, close clients. */
  shutdownSteps: ShutdownStep[];
  /** How long the whole shutdown may take before the process exits 1 (default 20 s). */
  shutdownTimeoutMs?: number;
}

/**
 * A service's process entry, the one `main()` every service shares: the config from the
 * environment (exit 1 naming every bad variable), the logger, tracing (tracing.ts; off without an
 * OTLP endpoint), `start`, then SIGTERM/SIGINT run the steps it returns and flush the spans. A
 * start that fails prints why and exits 1.
 */
export function runService<S extends z.ZodObject>(name: string, schema: S, start: (config: z.infer<S>, logger: Logger) => Promise<StartedService>): void {
  const main = async () => {
    const config = loadConfigOrExit(name, schema);
    const logger = createLogger(name, (config as { LOG_LEVEL?: string }).LOG_LEVEL);
    // Before start, so its clients make spans; the last step exports what is still buffered.
    const tracing = startTracing(name, config, logger);
    const started = await start(config, logger);
    installShutdown(logger, [...started.shutdownSteps, { name: 'traces', run: () => tracing.shutdown() }], started.shutdownTimeoutMs);
  };
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
