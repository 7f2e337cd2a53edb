/** Small numeric helpers shared by the simulator, the benchmarks and the tests. */

export interface LatLon {
  latitude: number;
  longitude: number;
}

/** Great-circle distance in meters (haversine, WGS 84 mean radius): within 0.5 % of PostGIS's geodesic meters. */
export function haversineMeters(a: LatLon, b: LatLon): number {
  const R = 6_371_008.8;
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1); the same seed, the same stream. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
