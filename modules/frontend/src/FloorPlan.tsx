import type { Place, PlaceKind } from './api';
import { minutesText } from './time';

/** The plan's drawing box, in SVG user units (the SVG scales down on narrow screens). */
const WIDTH = 800;
const MAX_HEIGHT = 560;
const MIN_HEIGHT = 160;
/** Room around the places for labels wider than a small booth. */
const PAD_X = 60;
const PAD_Y = 24;

interface PlanShape {
  place: Place;
  /** SVG path data: every ring of the polygon (holes included, drawn with fill-rule evenodd). */
  d: string;
  /** Where the label goes: the outline's centroid. */
  label: { x: number; y: number };
}

export interface PlanLayout {
  width: number;
  height: number;
  shapes: PlanShape[];
}

const toRad = (deg: number) => (deg * Math.PI) / 180;
const round1 = (n: number) => Math.round(n * 10) / 10;
const isPosition = (p: unknown): p is [number, number] =>
  Array.isArray(p) && p.length >= 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]) && Math.abs(p[1] as number) <= 90;

/** The rings of a place whose positions are all [longitude, latitude] numbers; none when its area is malformed. */
function ringsOf(place: Place): number[][][] {
  const coords = (place.area as { coordinates?: unknown } | undefined)?.coordinates;
  if (!Array.isArray(coords)) return [];
  return coords.filter((ring): ring is number[][] => Array.isArray(ring) && ring.length >= 3 && ring.every(isPosition));
}

/** Area-weighted centroid of a ring (shoelace); the mean of its vertices when it has no area. */
function centroid(ring: Array<[number, number]>): { x: number; y: number } {
  let a = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x0, y0] = ring[i]!;
    const [x1, y1] = ring[(i + 1) % ring.length]!;
    const cross = x0 * y1 - x1 * y0;
    a += cross;
    cx += (x0 + x1) * cross;
    cy += (y0 + y1) * cross;
  }
  if (Math.abs(a) < 1e-9) {
    return { x: ring.reduce((s, p) => s + p[0], 0) / ring.length, y: ring.reduce((s, p) => s + p[1], 0) / ring.length };
  }
  return { x: cx / (3 * a), y: cy / (3 * a) };
}

/**
 * Projects the places to the SVG box: equirectangular, longitudes scaled by the cosine of the
 * plan's middle latitude (so a square booth stays square), north up, one scale for both axes, the
 * whole plan fitted to WIDTH × at most MAX_HEIGHT and centred. Places whose area is malformed are
 * left out.
 */
export function layoutFloorPlan(places: Place[]): PlanLayout {
  const withRings = places.map((place) => ({ place, rings: ringsOf(place) })).filter((p) => p.rings.length > 0);
  const all = withRings.flatMap((p) => p.rings.flat());
  if (all.length === 0) return { width: WIDTH, height: MIN_HEIGHT, shapes: [] };
  const lons = all.map((p) => p[0]!);
  const lats = all.map((p) => p[1]!);
  const [minLon, maxLon, minLat, maxLat] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.max(0.01, Math.cos(toRad((minLat + maxLat) / 2)));
  const spanX = (maxLon - minLon) * k;
  const spanY = maxLat - minLat;
  const fit = [spanX > 0 ? (WIDTH - 2 * PAD_X) / spanX : Infinity, spanY > 0 ? (MAX_HEIGHT - 2 * PAD_Y) / spanY : Infinity];
  const scale = Math.min(...fit);
  const s = Number.isFinite(scale) ? scale : 1; // a single point
  const height = Math.max(MIN_HEIGHT, Math.round(spanY * s + 2 * PAD_Y));
  const offX = (WIDTH - spanX * s) / 2;
  const offY = (height - spanY * s) / 2;
  const project = ([lon, lat]: number[]): [number, number] => [offX + (lon! - minLon) * k * s, offY + (maxLat - lat!) * s];

  const shapes = withRings.map(({ place, rings }) => {
    const projected = rings.map((ring) => {
      const pts = ring.map(project);
      const [first, last] = [pts[0]!, pts[pts.length - 1]!];
      // GeoJSON rings repeat their first position at the end; Z closes the path instead.
      return first[0] === last[0] && first[1] === last[1] ? pts.slice(0, -1) : pts;
    });
    const d = projected.map((pts) => `M${pts.map(([x, y]) => `${round1(x)},${round1(y)}`).join('L')}Z`).join('');
    const c = centroid(projected[0]!);
    return { place, d, label: { x: round1(c.x), y: round1(c.y) } };
  });
  return { width: WIDTH, height, shapes };
}

export const KIND_LABEL: Record<PlaceKind, string> = { booth: 'Booth', room: 'Room', area: 'Area' };

/** What the selected person did in a place, when they visited it. */
export interface PlaceActivity {
  minutes: number;
  visits: number;
}

interface Props {
  eventName: string;
  places: Place[];
  /** Places the selected person visited; null when no person's visits are shown. */
  visited: Map<number, PlaceActivity> | null;
  /** Places to ring (shared with the person picked in the shared list); null for none. */
  shared: Set<number> | null;
  sharedWith?: string;
}

/**
 * The event's floor plan as SVG: one polygon per place, coloured by kind, named by an SVG <text>
 * label (React text, never markup), so it reads without any map tiles. The selected person's
 * visited places are outlined and the others dimmed; places shared with someone picked in the
 * shared list are ringed in red.
 */
export function FloorPlan({ eventName, places, visited, shared, sharedWith }: Props) {
  const plan = layoutFloorPlan(places);
  const left = places.length - plan.shapes.length;
  const classes = ['floor-plan', visited && visited.size > 0 ? 'with-visits' : ''].filter(Boolean).join(' ');
  return (
    <figure className="plan-wrap">
      <svg className={classes} viewBox={`0 0 ${plan.width} ${plan.height}`} role="group" aria-label={`Floor plan of ${eventName}`}>
        {plan.shapes.map(({ place, d, label }) => {
          const activity = visited?.get(place.id);
          const ringed = shared?.has(place.id) ?? false;
          const cls = ['place', place.kind, activity ? 'visited' : '', ringed ? 'shared' : ''].filter(Boolean).join(' ');
          const about = [`${place.name} (${KIND_LABEL[place.kind] ?? place.kind})`];
          if (activity) about.push(`visited ${activity.visits} ${activity.visits === 1 ? 'time' : 'times'}, ${minutesText(activity.minutes)}`);
          if (ringed && sharedWith) about.push(`shared with ${sharedWith}`);
          return (
            <g key={place.id} className={cls} data-place-id={place.id}>
              <title>{about.join(', ')}</title>
              <path d={d} fillRule="evenodd" />
              <text x={label.x} y={label.y} textAnchor="middle" dominantBaseline="central">
                {place.name}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        <span className="swatch booth" /> booth <span className="swatch room" /> room <span className="swatch area" /> area
        {visited && visited.size > 0 && (
          <>
            {' '}
            <span className="swatch visited" /> visited
          </>
        )}
        {shared && shared.size > 0 && sharedWith && (
          <>
            {' '}
            <span className="swatch shared" /> shared with <span className="legend-name">{sharedWith}</span>
          </>
        )}
        {left > 0 && <span className="problem"> · {left} place(s) without a drawable area are not shown</span>}
      </figcaption>
    </figure>
  );
}
