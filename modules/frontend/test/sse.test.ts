/** The SSE parser (the standard's "event stream interpretation") and the reconnecting reader over fetch(). */
import { describe, expect, it, vi } from 'vitest';
import { followEventStream, SseParser, type SseMessage, type StreamState } from '../src/sse';
import { scriptedStream, type ScriptedStream } from './sse-stream';

const feedAll = (chunks: string[]) => {
  const p = new SseParser();
  return { messages: chunks.flatMap((c) => p.feed(c)), parser: p };
};

describe('SseParser', () => {
  it('reads event, data and id; a blank line dispatches; "message" when no event is named', () => {
    const { messages } = feedAll(['event: meeting\ndata: {"a":1}\nid: 7\n\n', 'data: plain\n\n']);
    expect(messages).toEqual([
      { event: 'meeting', data: '{"a":1}', lastEventId: '7' },
      { event: 'message', data: 'plain', lastEventId: '7' },
    ]);
  });

  it('joins data lines with LF, keeps a value after one leading space only, reads a field without colon as empty', () => {
    const { messages } = feedAll(['data:first\ndata:  two spaces\ndata\ndata: last\n\n']);
    expect(messages).toEqual([{ event: 'message', data: 'first\n two spaces\n\nlast', lastEventId: '' }]);
  });

  it('takes LF, CR and CR LF line ends, a CR LF split across chunks included, and any split of a line', () => {
    const text = 'event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n';
    const whole = feedAll([text]).messages;
    expect(whole.map((m) => `${m.event}=${m.data}`)).toEqual(['a=1', 'b=2', 'message=3']);
    // Every way to cut the text in two gives the same messages.
    for (let i = 1; i < text.length; i++) expect(feedAll([text.slice(0, i), text.slice(i)]).messages).toEqual(whole);
    // One character at a time too.
    expect(feedAll([...text]).messages).toEqual(whole);
  });

  it('skips comments (keep-alives), counting them; unknown fields are ignored', () => {
    const { messages, parser } = feedAll([': keep-alive\n\n', ':\n', 'foo: bar\ndata: x\n\n', ': keep-alive\n']);
    expect(messages).toEqual([{ event: 'message', data: 'x', lastEventId: '' }]);
    expect(parser.comments).toBe(3);
  });

  it('dispatches nothing for an event without data, and drops a message the stream ends before its blank line', () => {
    const { messages } = feedAll(['event: meeting\n\n', 'event: meeting\ndata: {}\n']);
    expect(messages).toEqual([]);
  });

  it('reads retry only when it is all digits; ignores an id holding NUL; strips a leading BOM', () => {
    const { messages, parser } = feedAll(['\uFEFFretry: 2500\nretry: 12x\nid: ok\nid: bad\0id\ndata: d\n\n']);
    expect(parser.retry).toBe(2500);
    expect(messages).toEqual([{ event: 'message', data: 'd', lastEventId: 'ok' }]);
    // An empty id resets it.
    expect(new SseParser('old').feed('id\ndata: e\n\n')).toEqual([{ event: 'message', data: 'e', lastEventId: '' }]);
  });

  it('treats markup in data as text: it is only ever a string', () => {
    const { messages } = feedAll(['data: <img src=x onerror=alert(1)>\n\n']);
    expect(messages[0]!.data).toBe('<img src=x onerror=alert(1)>');
  });
});

/** A fetch stub: each call takes the next answer (a function of the request); records the requests. */
function stubFetch(answers: Array<(init: RequestInit) => Response | ScriptedStream | Error>) {
  const calls: Array<{ url: string; init: RequestInit; stream?: ScriptedStream }> = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const answer = answers[calls.length] ?? answers[answers.length - 1]!;
    const call: { url: string; init: RequestInit; stream?: ScriptedStream } = {
      url: input instanceof Request ? input.url : input.toString(),
      init: init ?? {},
    };
    calls.push(call);
    const a = answer(call.init);
    if (a instanceof Error) throw a;
    if (a instanceof Response) return a;
    call.stream = a;
    return a.response;
  });
  vi.stubGlobal('fetch', fetchMock);
  return calls;
}

const problem = (status: number, detail: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ title: 'x', status, detail }), { status, headers: { 'content-type': 'application/problem+json', ...headers } });

/** Runs followEventStream with short delays, recording states and messages. */
function follow(extra: Partial<Parameters<typeof followEventStream>[0]> = {}) {
  const ctl = new AbortController();
  const states: StreamState[] = [];
  const messages: SseMessage[] = [];
  const done = followEventStream({
    url: '/api/persons/5/meetings/live',
    token: 'tok',
    signal: ctl.signal,
    onMessage: (m) => messages.push(m),
    onState: (s) => states.push(s),
    baseDelayMs: 20,
    maxDelayMs: 80,
    random: () => 0.5,
    ...extra,
  });
  return { ctl, states, messages, done };
}

const until = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true), { timeout: 3000, interval: 5 });

describe('followEventStream', () => {
  it('sends the bearer token (no cookies, no cache), delivers messages, and closes the stream on abort', async () => {
    const calls = stubFetch([(init) => scriptedStream(init.signal)]);
    const f = follow();
    await until(() => f.states.some((s) => s.kind === 'open'));
    calls[0]!.stream!.send('event: meeting\ndata: {"n":1}\n\n: keep-alive\n\n');
    await until(() => f.messages.length === 1);
    expect(f.messages[0]).toEqual({ event: 'meeting', data: '{"n":1}', lastEventId: '' });
    const headers = new Headers(calls[0]!.init.headers);
    expect(headers.get('authorization')).toBe('Bearer tok');
    expect(headers.get('accept')).toBe('text/event-stream');
    expect(calls[0]!.init.credentials).toBe('omit');
    expect(calls[0]!.init.cache).toBe('no-store');
    f.ctl.abort();
    await f.done;
    expect(calls[0]!.stream!.closedByClient).toBe(true);
    expect(f.states.map((s) => s.kind)).toEqual(['connecting', 'open']);
  });

  it('reconnects when the stream drops, doubling the delay up to the maximum; data resets it; Last-Event-ID is sent', async () => {
    const calls = stubFetch([
      (init) => scriptedStream(init.signal),
      () => new TypeError('network down'),
      () => problem(503, 'database down'),
      () => problem(502, 'bad gateway'),
      (init) => scriptedStream(init.signal),
      (init) => scriptedStream(init.signal),
    ]);
    const f = follow();
    await until(() => calls[0]?.stream !== undefined && f.states.at(-1)?.kind === 'open');
    calls[0]!.stream!.send('id: 41\nevent: meeting\ndata: {}\n\n');
    await until(() => f.messages.length === 1);
    calls[0]!.stream!.end();
    await until(() => calls[4]?.stream !== undefined && f.states.at(-1)?.kind === 'open');
    const retries = f.states.filter((s): s is Extract<StreamState, { kind: 'retrying' }> => s.kind === 'retrying');
    expect(retries.map((r) => r.inMs)).toEqual([20, 40, 80, 80]);
    expect(retries.map((r) => r.reason)).toEqual([
      'The stream ended.',
      'The API cannot be reached (network down).',
      'The API answered 503: database down.',
      'The API answered 502: bad gateway.',
    ]);
    expect(new Headers(calls[0]!.init.headers).get('last-event-id')).toBeNull();
    expect(calls.slice(1).map((c) => new Headers(c.init.headers).get('last-event-id'))).toEqual(['41', '41', '41', '41']);
    // A message on the new connection starts the count over: the next drop waits the base delay again.
    calls[4]!.stream!.send('event: meeting\ndata: {}\n\n');
    await new Promise((r) => setTimeout(r, 20));
    calls[4]!.stream!.fail();
    await until(() => calls.length === 6);
    expect(f.states.filter((s) => s.kind === 'retrying').at(-1)).toEqual({
      kind: 'retrying',
      inMs: 20,
      reason: 'The API cannot be reached (connection reset).',
    });
    f.ctl.abort();
    await f.done;
  });

  it('a connection that only greets and ends is no healthy one: the delay keeps growing; one open for stableMs is', async () => {
    const greetAndEnd = (init: RequestInit) => {
      const s = scriptedStream(init.signal);
      queueMicrotask(() => {
        s.send(': connected\n\nevent: end\ndata: {"reason":"UNAVAILABLE: connection-service is down"}\n\n');
        s.end();
      });
      return s;
    };
    const calls = stubFetch([greetAndEnd, greetAndEnd, greetAndEnd, (init) => scriptedStream(init.signal), (init) => scriptedStream(init.signal)]);
    const f = follow({ healthy: (m) => m.event === 'meeting', stableMs: 50 });
    await until(() => calls[3]?.stream !== undefined && f.states.at(-1)?.kind === 'open');
    const delays = () => f.states.flatMap((s) => (s.kind === 'retrying' ? [s.inMs] : []));
    expect(delays()).toEqual([20, 40, 80]);
    expect(f.messages.map((m) => m.event)).toEqual(['end', 'end', 'end']);
    // Open for longer than stableMs (a keep-alive arriving after it tells): healthy.
    await new Promise((r) => setTimeout(r, 70));
    calls[3]!.stream!.send(': keep-alive\n\n');
    await new Promise((r) => setTimeout(r, 10));
    calls[3]!.stream!.end();
    await until(() => calls.length === 5);
    expect(delays()).toEqual([20, 40, 80, 20]);
    f.ctl.abort();
    await f.done;
  });

  it("waits at least the server's Retry-After on 429, and uses the server's retry: as the base delay", async () => {
    const calls = stubFetch([
      () => problem(429, 'slow down', { 'retry-after': '0' }),
      (init) => {
        const s = scriptedStream(init.signal);
        queueMicrotask(() => {
          s.send('retry: 30\n\n');
          s.end();
        });
        return s;
      },
      (init) => scriptedStream(init.signal),
    ]);
    const f = follow();
    await until(() => calls.length === 3);
    const retries = f.states.filter((s): s is Extract<StreamState, { kind: 'retrying' }> => s.kind === 'retrying');
    expect(retries.map((r) => r.inMs)).toEqual([20, 60]); // 429: base; then retry 30 ms doubled (the 2nd failure in a row)
    f.ctl.abort();
    await f.done;
  });

  it('stops for good on 401 (calling onUnauthorized), 403, 404 and an answer that is no event stream', async () => {
    for (const [answer, status, reason] of [
      [() => problem(401, 'token expired'), 401, 'The API answered 401: token expired.'],
      [() => problem(403, 'not your person'), 403, 'The API answered 403: not your person.'],
      [() => problem(404, 'No person with id 5'), 404, 'The API answered 404: No person with id 5.'],
      [
        () => new Response('<!doctype html>', { status: 200, headers: { 'content-type': 'text/html' } }),
        200,
        'The API answered text/html, not an event stream.',
      ],
    ] as const) {
      const calls = stubFetch([answer]);
      const onUnauthorized = vi.fn();
      const f = follow({ onUnauthorized });
      await f.done;
      expect(calls).toHaveLength(1);
      expect(f.states).toEqual([{ kind: 'connecting' }, { kind: 'stopped', status, reason }]);
      expect(onUnauthorized).toHaveBeenCalledTimes(status === 401 ? 1 : 0);
    }
  });

  it('counts a stream silent for longer than idleMs as dead, and reconnects', async () => {
    const calls = stubFetch([(init) => scriptedStream(init.signal)]);
    const f = follow({ idleMs: 60 });
    await until(() => calls.length === 2);
    expect(calls[0]!.stream!.closedByClient).toBe(true);
    expect(f.states.find((s) => s.kind === 'retrying')).toEqual({ kind: 'retrying', inMs: 20, reason: 'Nothing received for 0 s.' });
    f.ctl.abort();
    await f.done;
  });

  it('an abort while waiting to reconnect ends it at once, with no further request', async () => {
    const calls = stubFetch([() => problem(500, 'boom')]);
    const ctl = new AbortController();
    const done = followEventStream({ url: '/x', token: 't', signal: ctl.signal, onMessage: () => undefined, onState: () => undefined, baseDelayMs: 60_000 });
    await until(() => calls.length === 1);
    await new Promise((r) => setTimeout(r, 10));
    ctl.abort();
    await done;
    expect(calls).toHaveLength(1);
  });
});
