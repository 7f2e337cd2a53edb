/** How `npm start` shows its services' log lines (scripts/log-format.ts). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createLineFormatter, logFormat, serviceTag, useColors } from '../../scripts/log-format';

const ROOT = join(__dirname, '..', '..');
const record = {
  level: 30,
  time: '2026-03-04T10:37:06.123Z',
  pid: 4242,
  hostname: 'box',
  service: 'person-api',
  name: 'person-api',
  port: 30001,
  msg: 'person-api listening on http://localhost:30001/',
};
const line = JSON.stringify(record);
const tag = serviceTag('person-api', 1, false);
// The time as pino-pretty prints it (SYS: the machine's time zone), so the test holds in any zone.
const d = new Date(record.time);
const hhmmss = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/;

describe('pretty (a terminal)', () => {
  const pretty = createLineFormatter({ format: 'pretty', colors: false });

  test('a pino JSON line becomes one readable line: tag (service), time, level, message, other fields', () => {
    const out = pretty(tag, line);
    expect(out).toBe(`person-api        | [${hhmmss}.123] INFO: person-api listening on http://localhost:30001/ {"port":30001}`);
    expect(out).not.toContain('4242'); // pid and hostname are noise on a developer's console
    expect(out).not.toContain('box');
  });

  test('levels are named', () => {
    expect(pretty(tag, JSON.stringify({ ...record, level: 40, msg: 'careful' }))).toContain('WARN: careful');
    expect(pretty(tag, JSON.stringify({ ...record, level: 50, msg: 'broken' }))).toContain('ERROR: broken');
  });

  test('an error with a stack: every printed line carries the tag', () => {
    const err = { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (x.ts:1:1)' };
    const out = pretty(tag, JSON.stringify({ ...record, level: 50, msg: 'failed', err }));
    const lines = out.split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.startsWith(tag)).toBe(true);
    expect(out).toContain('ERROR: failed');
    expect(out).toContain('at f (x.ts:1:1)');
  });

  test('a line that is not a pino record passes through behind the tag, unchanged', () => {
    expect(pretty(tag, 'frontend listening on http://localhost:30000')).toBe(`${tag} frontend listening on http://localhost:30000`);
    expect(pretty(tag, '    at Object.<anonymous> (main.ts:3:9)')).toBe(`${tag}     at Object.<anonymous> (main.ts:3:9)`);
    expect(pretty(tag, '{"not":"a log record"}')).toBe(`${tag} {"not":"a log record"}`);
    expect(pretty(tag, '{ broken json')).toBe(`${tag} { broken json`);
    expect(pretty(tag, '')).toBe(`${tag} `);
  });

  test('colours only when asked: coloured tag and level', () => {
    const coloured = createLineFormatter({ format: 'pretty', colors: true })(serviceTag('person-api', 1, true), line);
    expect(coloured).toMatch(ANSI);
    expect(coloured.replace(new RegExp(ANSI.source, 'g'), '')).toBe(pretty(tag, line));
    expect(pretty(tag, line)).not.toMatch(ANSI);
  });
});

describe('json (piped, redirected, CI)', () => {
  const json = createLineFormatter({ format: 'json', colors: false });

  test('a pino JSON line is passed on exactly as the service wrote it (it names its service)', () => {
    expect(json(tag, line)).toBe(line);
    expect(JSON.parse(json(tag, line))).toEqual(record);
  });

  test('any other line keeps the plain tag, so its origin is known', () => {
    expect(json(tag, 'Error: boom')).toBe('person-api        | Error: boom');
  });
});

test('format: LOG_FORMAT wins, else pretty on a TTY and JSON otherwise; NO_COLOR turns colours off', () => {
  expect(logFormat({}, true)).toBe('pretty');
  expect(logFormat({}, false)).toBe('json');
  expect(logFormat({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  expect(logFormat({ LOG_FORMAT: 'JSON' }, true)).toBe('json');
  expect(logFormat({ LOG_FORMAT: 'nonsense' }, true)).toBe('pretty');
  expect(useColors({}, true)).toBe(true);
  expect(useColors({}, false)).toBe(false);
  expect(useColors({ NO_COLOR: '1' }, true)).toBe(false);
  expect(serviceTag('location-writer', 0, false)).toBe('location-writer   |');
});

describe('a service on its own (createLogger), stdout piped like this test reads it', () => {
  /** What a process that logs one info line through createLogger writes to stdout. */
  function logOneLine(env: Record<string, string | undefined>): string {
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    delete childEnv.LOG_FORMAT;
    delete childEnv.NODE_ENV;
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', "require('@udaconnect/common').createLogger('log-format-test', 'info').info({ port: 1 }, 'hello')"],
      {
        cwd: ROOT,
        env: childEnv,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    return r.stdout;
  }

  test("not a terminal (the runner's children, K3s): JSON lines", () => {
    expect(JSON.parse(logOneLine({}).trim())).toMatchObject({ level: 30, service: 'log-format-test', msg: 'hello', port: 1 });
  });

  test('LOG_FORMAT=pretty: a readable line', () => {
    expect(logOneLine({ LOG_FORMAT: 'pretty' }).trim()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(log-format-test\): hello \{"port":1\}$/);
  });

  test('never pretty with NODE_ENV=production (the images), whatever LOG_FORMAT says', () => {
    expect(JSON.parse(logOneLine({ LOG_FORMAT: 'pretty', NODE_ENV: 'production' }).trim())).toMatchObject({ level: 30, msg: 'hello' });
  });
});
