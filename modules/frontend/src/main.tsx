import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'leaflet/dist/leaflet.css';
import './styles.css';
import { App } from './App';

/** Runtime configuration, served by the frontend server (never baked into the build). */
async function loadConfig(): Promise<{ apiBaseUrl: string }> {
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (!res.ok) return { apiBaseUrl: '' };
    const body = (await res.json()) as { apiBaseUrl?: unknown };
    return { apiBaseUrl: typeof body.apiBaseUrl === 'string' ? body.apiBaseUrl.replace(/\/+$/, '') : '' };
  } catch {
    return { apiBaseUrl: '' };
  }
}

void loadConfig().then(({ apiBaseUrl }) => {
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <App apiBaseUrl={apiBaseUrl} />
    </StrictMode>,
  );
});
