// The one fetch layer: every request of the page goes through `request`.
// The session is an HttpOnly cookie; every non-GET request carries
// `X-Weft-Csrf: 1`, which a cross-site form cannot send. A 401 sends the user
// to the sign-in page.

import type { ApiErrorBody } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, body: ApiErrorBody) {
    super(forbiddenMessage(body) ?? body.message);
    this.status = status;
    this.code = body.code;
    this.details = body.details;
  }
}

/**
 * A 403 `forbidden` says which role the request needs and which the token
 * has: "Needs the editor role (you are viewer)."
 */
function forbiddenMessage(body: ApiErrorBody): string | null {
  if (body.code !== 'forbidden') return null;
  const d = (body.details ?? {}) as { required?: unknown; role?: unknown };
  if (typeof d.required !== 'string') return null;
  return `Needs the ${d.required} role${typeof d.role === 'string' ? ` (you are ${d.role})` : ''}.`;
}

type Unauthorized = () => void;
let onUnauthorized: Unauthorized = () => {};

/** What to do when the host answers 401 (set once by the app). */
export function setUnauthorizedHandler(handler: Unauthorized): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  query?: Record<string, string | number | boolean | undefined | null>;
  json?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  /** Do not redirect to the sign-in page on 401 (the session calls). */
  quiet401?: boolean;
  signal?: AbortSignal;
}

export interface Response<T> {
  status: number;
  body: T;
  headers: Headers;
}

function url(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<Response<T>> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  let body: BodyInit | undefined;
  if (method !== 'GET') headers['X-Weft-Csrf'] = '1';
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  let response: globalThis.Response;
  try {
    response = await fetch(url(path, options.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, { code: 'network', message: `cannot reach the host: ${String(e)}` });
  }
  const text = response.status === 204 ? '' : await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && !options.quiet401) onUnauthorized();
    const err = (parsed as { error?: ApiErrorBody } | undefined)?.error;
    throw new ApiError(
      response.status,
      err ?? { code: `http_${response.status}`, message: text || response.statusText || `HTTP ${response.status}` },
    );
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

export async function get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
  return (await request<T>(path, { query })).body;
}

export async function send<T>(
  method: 'POST' | 'PUT' | 'DELETE',
  path: string,
  json?: unknown,
  extra: Omit<RequestOptions, 'method' | 'json'> = {},
): Promise<T> {
  return (await request<T>(path, { ...extra, method, json })).body;
}

/** A message for any thrown value. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
