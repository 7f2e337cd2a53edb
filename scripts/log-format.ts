/**
 * How `npm start` shows its services' output. Services always log JSON lines (pino); the runner
 * reads them from each child's stdout/stderr and either pretty-prints them (pino-pretty) behind
 * the service's tag, for a person at a terminal, or passes them on unchanged, for a machine.
 */
import { prettyFactory } from 'pino-pretty';

export type LogFormat = 'pretty' | 'json';

/** LOG_FORMAT=pretty|json if set; otherwise pretty on a terminal and JSON when piped or redirected. */
export function logFormat(env: NodeJS.ProcessEnv, isTTY: boolean): LogFormat {
  const v = env.LOG_FORMAT?.trim().toLowerCase();
  if (v === 'pretty' || v === 'json') return v;
  return isTTY ? 'pretty' : 'json';
}

/** Colours on a terminal unless NO_COLOR is set (https://no-color.org). */
export function useColors(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  return isTTY && !env.NO_COLOR;
}

const TAG_COLORS = [36, 35, 33, 32, 34, 31];
const TAG_WIDTH = 18;

/** `person-api         |`, coloured by the service's position when colours are on. */
export function serviceTag(name: string, index: number, colors: boolean): string {
  const text = name.padEnd(TAG_WIDTH);
  return colors ? `\x1b[${TAG_COLORS[index % TAG_COLORS.length]}m${text}\x1b[0m|` : `${text}|`;
}

/** The line as a pino record (a JSON object with a numeric level), or undefined. */
function parseRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (value && typeof value === 'object' && !Array.isArray(value) && typeof (value as { level?: unknown }).level === 'number') {
      return value as Record<string, unknown>;
    }
  } catch {
    // not JSON: shown as it is
  }
  return undefined;
}

/**
 * Returns a function that turns one line a service wrote into what the runner prints (one or
 * more lines, without a trailing newline).
 *
 * - pretty: a pino record becomes `<tag> [HH:MM:ss.l] LEVEL: message {other fields}` (local time;
 *   pid, hostname and the service's name are left out, the tag says it; an error's stack follows
 *   on tagged lines of its own). Any other line is printed behind the tag as it is.
 * - json: a pino record is printed unchanged (it names its service); any other line (a stack
 *   trace on stderr, the frontend's plain messages) behind an uncoloured tag.
 */
export function createLineFormatter(opts: { format: LogFormat; colors: boolean }): (tag: string, line: string) => string {
  if (opts.format === 'json') {
    return (tag, line) => (parseRecord(line) ? line : `${tag} ${line}`);
  }
  const prettify = prettyFactory({
    colorize: opts.colors,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,name',
    singleLine: true,
  });
  return (tag, line) => {
    const record = parseRecord(line);
    if (!record) return `${tag} ${line}`;
    const text = prettify(record).replace(/\r?\n$/, '');
    return text
      .split(/\r?\n/)
      .map((l) => `${tag} ${l}`)
      .join('\n');
  };
}
