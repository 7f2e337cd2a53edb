/** The floor plan: its projection, and the SVG it draws (labels as <text>, classes by kind and visit). */
import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/react';
import { FloorPlan, layoutFloorPlan } from '../src/FloorPlan';
import type { Place } from '../src/api';
import { place, square, venue } from './event-fixtures';

/** The projected corners of a shape's first ring: [[x, y], …]. */
const corners = (d: string) =>
  d
    .split('Z')[0]!
    .slice(1)
    .split('L')
    .map((xy) => xy.split(',').map(Number));
const extent = (pts: number[][]) => {
  const xs = pts.map((p) => p[0]!);
  const ys = pts.map((p) => p[1]!);
  return { w: Math.max(...xs) - Math.min(...xs), h: Math.max(...ys) - Math.min(...ys), x: Math.min(...xs), y: Math.min(...ys) };
};

describe('layoutFloorPlan', () => {
  it('keeps squares square far from the equator (longitude scaled by cos(latitude)), north up, fitted to the box', () => {
    // At 60° N a degree of longitude is half a degree of latitude on the ground.
    const places = [place(1, 1, 'South-west', 'booth', square(10, 60, 10)), place(2, 1, 'North-east', 'booth', square(10.002, 60.001, 10))];
    const plan = layoutFloorPlan(places);
    const [sw, ne] = plan.shapes.map((s) => extent(corners(s.d)));
    expect(sw!.w / sw!.h).toBeCloseTo(1, 2);
    expect(ne!.w / ne!.h).toBeCloseTo(1, 2);
    expect(ne!.y).toBeLessThan(sw!.y); // north is up
    expect(ne!.x).toBeGreaterThan(sw!.x); // east is right
    // About 111 m east by 111 m north apart: the plan is about square, within 800 × 560.
    expect(plan.width).toBe(800);
    expect(plan.height).toBeLessThanOrEqual(560);
    for (const s of plan.shapes) {
      for (const [x, y] of corners(s.d)) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(plan.width);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(plan.height);
      }
    }
  });

  it('draws every ring (holes too) without repeating the closing position; labels at the centroid', () => {
    const plan = layoutFloorPlan(venue);
    const lounge = plan.shapes.find((s) => s.place.name === 'Coffee lounge')!;
    expect(lounge.d.match(/M/g)).toHaveLength(2);
    expect(corners(lounge.d)).toHaveLength(4);
    const box = extent(corners(lounge.d));
    expect(lounge.label.x).toBeCloseTo(box.x + box.w / 2, 0);
    expect(lounge.label.y).toBeCloseTo(box.y + box.h / 2, 0);
  });

  it('leaves out places whose area cannot be drawn, and copes with a plan that is a single point', () => {
    const broken = { ...venue[0]!, id: 99, area: { type: 'Polygon', coordinates: [[['a', 'b']]] } } as unknown as Place;
    expect(layoutFloorPlan([broken, venue[1]!]).shapes.map((s) => s.place.id)).toEqual([11]);
    const dot = place(5, 1, 'Dot', 'area', [
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    const plan = layoutFloorPlan([dot]);
    expect(plan.shapes[0]!.d).not.toContain('NaN');
    expect(plan.shapes[0]!.label).toEqual({ x: 400, y: 80 });
    expect(layoutFloorPlan([])).toEqual({ width: 800, height: 160, shapes: [] });
  });
});

describe('FloorPlan', () => {
  it('names every place in an SVG <text> label, coloured by kind; visited places are marked and the others dimmed', () => {
    const visited = new Map([[11, { minutes: 12.5, visits: 2 }]]);
    const { container } = render(<FloorPlan eventName="Demo" places={venue} visited={visited} shared={new Set([12])} sharedWith="Pam Trexler" />);
    const svg = screen.getByRole('group', { name: 'Floor plan of Demo' });
    expect(svg.tagName.toLowerCase()).toBe('svg');
    expect(svg.getAttribute('class')).toBe('floor-plan with-visits');
    expect([...svg.querySelectorAll('text')].map((t) => t.textContent)).toEqual(['Booth 1', 'Booth 2', 'Talk room 1', 'Coffee lounge']);
    const cls = (id: number) => container.querySelector(`[data-place-id="${id}"]`)!.getAttribute('class');
    expect([10, 11, 12, 13].map(cls)).toEqual(['place booth', 'place booth visited', 'place room shared', 'place area']);
    expect(container.querySelector('[data-place-id="11"] title')!.textContent).toBe('Booth 2 (Booth), visited 2 times, 12.5 min');
    expect(container.querySelector('[data-place-id="12"] title')!.textContent).toBe('Talk room 1 (Room), shared with Pam Trexler');
    expect(container.querySelector('[data-place-id="13"] path')!.getAttribute('fill-rule')).toBe('evenodd');
    expect(screen.getByText(/shared with/, { selector: 'figcaption' }).textContent).toContain('shared with Pam Trexler');
  });

  it('without a person, nothing is dimmed or marked; a place it cannot draw is reported', () => {
    const broken = { ...venue[0]!, id: 99, area: null } as unknown as Place;
    const { container } = render(<FloorPlan eventName="Demo" places={[...venue, broken]} visited={null} shared={null} />);
    expect(container.querySelector('svg')!.getAttribute('class')).toBe('floor-plan');
    expect(container.querySelectorAll('.visited, .shared')).toHaveLength(0);
    expect(container.querySelector('figcaption')!.textContent).toContain('1 place(s) without a drawable area are not shown');
  });
});
