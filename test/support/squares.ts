/** Test venues: square places laid out in meters around a point, as GeoJSON Polygons ([longitude, latitude]). */

export interface LocalFrame {
  latitude: number;
  longitude: number;
  /** Degrees per meter north and east at that point. */
  degreesPerMeter: { north: number; east: number };
}

/** A square `side` meters wide whose south-west corner is `east` and `north` meters from the frame's point; counterclockwise, closed. */
export function squareAt(frame: LocalFrame, east: number, north: number, side: number) {
  const { latitude: lat, longitude: lon, degreesPerMeter: d } = frame;
  const [x0, x1, y0, y1] = [lon + east * d.east, lon + (east + side) * d.east, lat + north * d.north, lat + (north + side) * d.north];
  return {
    type: 'Polygon' as const,
    coordinates: [
      [
        [x0, y0],
        [x1, y0],
        [x1, y1],
        [x0, y1],
        [x0, y0],
      ],
    ],
  };
}
