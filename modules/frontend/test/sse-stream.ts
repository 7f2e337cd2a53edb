/**
 * A scripted text/event-stream for the tests: a fetch Response whose body the test writes to
 * (send), ends (end) or breaks (fail), and which errors when the request's signal aborts, as
 * fetch() does.
 */
export interface ScriptedStream {
  response: Response;
  send(text: string): void;
  end(): void;
  fail(message?: string): void;
  /** Whether the client aborted or cancelled the request. */
  readonly closedByClient: boolean;
}

export function scriptedStream(signal: AbortSignal | null | undefined, init: ResponseInit = {}): ScriptedStream {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  let closedByClient = false;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      open = false;
      closedByClient = true;
    },
  });
  signal?.addEventListener('abort', () => {
    closedByClient = true;
    if (!open) return;
    open = false;
    controller.error(new DOMException('The operation was aborted.', 'AbortError'));
  });
  return {
    response: new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' }, ...init }),
    send(text) {
      if (open) controller.enqueue(encoder.encode(text));
    },
    end() {
      if (!open) return;
      open = false;
      controller.close();
    },
    fail(message = 'connection reset') {
      if (!open) return;
      open = false;
      controller.error(new TypeError(message));
    },
    get closedByClient() {
      return closedByClient;
    },
  };
}

/** `event: meeting` with its JSON data, as the API sends it. */
export const meetingEvent = (data: unknown, id?: string) => `${id !== undefined ? `id: ${id}\n` : ''}event: meeting\ndata: ${JSON.stringify(data)}\n\n`;
