/** Runtime configuration, served by the frontend server as /config.json (never baked into the build). */
export interface RuntimeConfig {
  /** Prefix for API calls; '' = same origin (the frontend server proxies /api). */
  apiBaseUrl: string;
  /** Leaflet tile URL template (the server's TILE_URL); the page's CSP allows images from its origin only. */
  tileUrl: string;
}

/** The public OpenStreetMap tiles: the server's default TILE_URL. */
export const DEFAULT_TILE_URL = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';

export async function loadConfig(): Promise<RuntimeConfig> {
  const fallback = { apiBaseUrl: '', tileUrl: DEFAULT_TILE_URL };
  try {
    const res = await fetch('/config.json', { cache: 'no-store', credentials: 'omit' });
    if (!res.ok) return fallback;
    const body = (await res.json()) as { apiBaseUrl?: unknown; tileUrl?: unknown };
    return {
      apiBaseUrl: typeof body.apiBaseUrl === 'string' ? body.apiBaseUrl.replace(/\/+$/, '') : '',
      tileUrl: typeof body.tileUrl === 'string' && body.tileUrl !== '' ? body.tileUrl : DEFAULT_TILE_URL,
    };
  } catch {
    return fallback;
  }
}
