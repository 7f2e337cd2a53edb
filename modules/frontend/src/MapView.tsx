import { useEffect, useRef } from 'react';
import L from 'leaflet';
import type { Location, PersonConnection } from './api';

interface Props {
  pings: Location[];
  connections: PersonConnection[];
  highlightedId: number | null;
}

const ll = (l: Location): L.LatLngTuple => [Number(l.latitude), Number(l.longitude)];

/**
 * Leaflet map: the selected person's pings (blue) and the meeting points (orange; the highlighted
 * contact's in red, larger). Vectors are drawn with circleMarkers, so they show even when the OSM
 * tiles cannot load (the container keeps a plain background).
 */
export function MapView({ pings, connections, highlightedId }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);

  useEffect(() => {
    if (!el.current) return;
    const m = L.map(el.current, { center: [37.55, -122.29], zoom: 12 });
    L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
      maxZoom: 19,
      attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    }).addTo(m);
    map.current = m;
    layer.current = L.layerGroup().addTo(m);
    return () => {
      m.remove();
      map.current = null;
      layer.current = null;
    };
  }, []);

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
          .bindTooltip(`${c.person.first_name} ${c.person.last_name} · ${mp.creation_time}`)
          .addTo(g);
        if (on) highlighted.push(marker);
      }
    }
    for (const p of pings) {
      points.push(ll(p));
      L.circleMarker(ll(p), { radius: 4, color: '#1d4ed8', fillColor: '#3b82f6', fillOpacity: 0.9, weight: 1, className: 'ping' })
        .bindTooltip(`ping ${p.creation_time}`)
        .addTo(g);
    }
    highlighted.forEach((h) => h.bringToFront());
    if (points.length > 0) m.fitBounds(L.latLngBounds(points), { padding: [30, 30], maxZoom: 18 });
  }, [pings, connections, highlightedId]);

  return (
    <div className="map-wrap">
      <div ref={el} className="map" role="region" aria-label="Map of pings and meeting points" />
      <p className="legend">
        {pings.length} pings, {connections.reduce((n, c) => n + c.meeting_points.length, 0)} meeting points ·
        <span className="dot ping" /> pings of the selected person <span className="dot meet" /> meeting points{' '}
        <span className="dot hi" /> highlighted contact
      </p>
    </div>
  );
}
