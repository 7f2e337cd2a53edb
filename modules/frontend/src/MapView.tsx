import { useEffect, useRef } from 'react';
import L from 'leaflet';
import { fullName, type Location, type PersonConnection } from './api';

const OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';

interface Props {
  tileUrl: string;
  pings: Location[];
  connections: PersonConnection[];
  highlightedId: number | null;
}

const ll = (l: Location): L.LatLngTuple => [Number(l.latitude), Number(l.longitude)];

/**
 * Tooltip content as a DOM node whose lines are set with textContent. Leaflet inserts a *string*
 * with innerHTML, so names (typed by users) must never reach it as one: `<img onerror=…>` in a
 * first name would run. Each line is a <span>; nothing here is parsed as HTML.
 */
function textContentNode(lines: string[], className: string): HTMLElement {
  const el = document.createElement('div');
  el.className = className;
  for (const line of lines) {
    const span = document.createElement('span');
    span.className = 'line';
    span.textContent = line;
    el.appendChild(span);
  }
  return el;
}

export const meetingTooltip = (c: PersonConnection, at: string) => textContentNode([fullName(c.person), c.person.company_name, at], 'tooltip-text meeting');
export const pingTooltip = (p: Location) => textContentNode([`ping ${p.creation_time}`], 'tooltip-text ping');

/**
 * Leaflet cancels a tile download by pointing the <img> at a data: GIF, which a Content-Security-
 * Policy whose img-src is only 'self' and the tile server blocks (a violation per removed tile).
 * This layer drops the src attribute instead: the download stops and nothing is fetched.
 * (Leaflet 1.9.4 TileLayer._abortLoading, _removeTile and _tileReady, with that one change.)
 */
type TileRecord = { el: HTMLImageElement; coords: L.Coords };
type TileInternals = L.TileLayer & { _tiles: Record<string, TileRecord>; _tileZoom: number; _map: L.Map | null };
const CspTileLayer = L.TileLayer.extend({
  _abortLoading(this: TileInternals) {
    for (const key of Object.keys(this._tiles)) {
      const record = this._tiles[key]!;
      if (record.coords.z === this._tileZoom) continue;
      const tile = record.el;
      tile.onload = L.Util.falseFn;
      tile.onerror = L.Util.falseFn;
      if (!tile.complete) {
        tile.removeAttribute('src');
        L.DomUtil.remove(tile);
        delete this._tiles[key];
        this.fire('tileabort', { tile, coords: record.coords });
      }
    }
  },
  _removeTile(this: TileInternals, key: string) {
    const record = this._tiles[key];
    if (!record) return;
    record.el.removeAttribute('src');
    return (L.GridLayer.prototype as unknown as { _removeTile(k: string): void })._removeTile.call(this, key);
  },
  _tileReady(this: TileInternals, coords: L.Coords, err: Error | undefined, tile: HTMLImageElement | undefined) {
    if (!this._map || (tile && !tile.getAttribute('src'))) return;
    return (L.GridLayer.prototype as unknown as { _tileReady(...a: unknown[]): void })._tileReady.call(this, coords, err, tile);
  },
}) as unknown as new (url: string, options: L.TileLayerOptions) => L.TileLayer;

/**
 * Leaflet map: the selected person's pings (blue) and the meeting points (orange; the highlighted
 * contact's in red, larger). Vectors are drawn with circleMarkers, so they show even when the OSM
 * tiles cannot load (the container keeps a plain background).
 */
export function MapView({ tileUrl, pings, connections, highlightedId }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);

  useEffect(() => {
    if (!el.current) return;
    const m = L.map(el.current, { center: [37.55, -122.29], zoom: 12 });
    new CspTileLayer(tileUrl, {
      maxZoom: 19,
      attribution: OSM_ATTRIBUTION,
      // The page sends no Referer (Referrer-Policy: no-referrer); the OpenStreetMap tile servers
      // want one from a web page, so tiles alone send the page's origin (never its path).
      referrerPolicy: 'strict-origin',
    }).addTo(m);
    map.current = m;
    layer.current = L.layerGroup().addTo(m);
    return () => {
      m.remove();
      map.current = null;
      layer.current = null;
    };
  }, [tileUrl]);

  useEffect(() => {
    const m = map.current;
    const g = layer.current;
    if (!m || !g) return;
    g.clearLayers();
    const points: L.LatLngTuple[] = [];
    const highlighted: L.CircleMarker[] = [];
    // Meeting points first, the person's own pings (smaller) on top; many share one spot.
    for (const c of connections) {
      const on = c.person.id === highlightedId;
      for (const mp of c.meeting_points) {
        points.push(ll(mp));
        const marker = L.circleMarker(ll(mp), {
          // The highlighted contact's points are wide rings, so what lies beneath stays visible.
          radius: on ? 13 : 8,
          color: on ? '#b91c1c' : '#c2410c',
          fillColor: on ? '#ef4444' : '#fb923c',
          fillOpacity: on ? 0.2 : 0.7,
          weight: on ? 4 : 1,
          className: on ? 'meeting-point highlighted' : 'meeting-point',
        })
          .bindTooltip(meetingTooltip(c, mp.creation_time))
          .addTo(g);
        if (on) highlighted.push(marker);
      }
    }
    for (const p of pings) {
      points.push(ll(p));
      L.circleMarker(ll(p), { radius: 4, color: '#1d4ed8', fillColor: '#3b82f6', fillOpacity: 0.9, weight: 1, className: 'ping' })
        .bindTooltip(pingTooltip(p))
        .addTo(g);
    }
    highlighted.forEach((h) => h.bringToFront());
    if (points.length > 0) m.fitBounds(L.latLngBounds(points), { padding: [30, 30], maxZoom: 18 });
  }, [tileUrl, pings, connections, highlightedId]);

  return (
    <div className="map-wrap">
      <div ref={el} className="map" role="region" aria-label="Map of pings and meeting points" />
      <p className="legend">
        {pings.length} pings, {connections.reduce((n, c) => n + c.meeting_points.length, 0)} meeting points ·
        <span className="dot ping" /> pings of the selected person <span className="dot meet" /> meeting points <span className="dot hi" /> highlighted contact
      </p>
    </div>
  );
}
