import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'leaflet/dist/leaflet.css';
import './styles.css';
import { App } from './App';
import { loadConfig } from './config';

void loadConfig().then(({ apiBaseUrl, tileUrl }) => {
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <App apiBaseUrl={apiBaseUrl} tileUrl={tileUrl} />
    </StrictMode>,
  );
});
