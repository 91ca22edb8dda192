// The pool on a world map: Leaflet draws country outlines from Natural Earth (the world-atlas package,
// served as a file of this app) and one circle per node at its GPUPOOL_LOCATION. No tile server: the
// console must work offline and on private networks, and must not leak who looks at which pool.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import worldUrl from 'world-atlas/countries-110m.json?url';
import { h } from './dom';
import type { PoolNode } from './types';

type Position = GeoJSON.Position;

/**
 * Rings that cross the antimeridian (Russia's Chukotka, Fiji) jump from +180 to -180; Leaflet would
 * draw that jump as a line across the whole map. Continue such a ring past ±180 instead.
 */
function unwrapRing(ring: Position[]): Position[] {
  let shift = 0;
  return ring.map((p, i) => {
    if (i > 0) {
      const step = p[0] - ring[i - 1][0];
      if (step > 180) shift -= 360;
      else if (step < -180) shift += 360;
    }
    return [p[0] + shift, p[1]];
  });
}

function unwrap(fc: GeoJSON.FeatureCollection): GeoJSON.FeatureCollection {
  for (const f of fc.features) {
    const g = f.geometry;
    if (g.type === 'Polygon') g.coordinates = g.coordinates.map(unwrapRing);
    else if (g.type === 'MultiPolygon') g.coordinates = g.coordinates.map((poly) => poly.map(unwrapRing));
  }
  return fc;
}

/** one fetch per page load: the outlines never change */
let outlines: Promise<GeoJSON.GeoJsonObject> | undefined;
function loadOutlines(): Promise<GeoJSON.GeoJsonObject> {
  outlines ??= fetch(worldUrl)
    .then((r) => r.json() as Promise<Topology<{ countries: GeometryCollection }>>)
    .then((topo) => unwrap(feature(topo, topo.objects.countries)));
  return outlines;
}

export const STATUS_COLOURS: Record<string, string> = {
  ONLINE: '#1a7f37',
  DEGRADED: '#bf8700',
  DRAINING: '#0969da',
  OFFLINE: '#6e7781',
  QUARANTINED: '#cf222e',
  DEREGISTERED: '#424a53',
};

export interface WorldMap {
  show(nodes: PoolNode[]): void;
  dispose(): void;
}

export function worldMap(el: HTMLElement, onSelect: (id: string) => void): WorldMap {
  const map = L.map(el, { minZoom: 1, maxZoom: 8, zoomSnap: 0.5, worldCopyJump: true, attributionControl: true });
  map.attributionControl.setPrefix('Leaflet · outlines: Natural Earth');
  map.setView([25, 10], 1.5);
  void loadOutlines().then((geo) => {
    L.geoJSON(geo, { interactive: false, style: { color: '#8c959f', weight: 0.6, fillColor: '#eaeef2', fillOpacity: 1 } }).addTo(map).bringToBack();
  });
  const markers = L.layerGroup().addTo(map);
  let fitted = '';
  return {
    show(nodes) {
      markers.clearLayers();
      const placed = nodes.filter((n) => n.location);
      for (const n of placed) {
        const colour = STATUS_COLOURS[n.status] ?? '#6e7781';
        L.circleMarker([n.location!.lat, n.location!.lon], {
          radius: 8,
          color: '#fff',
          weight: 2,
          fillColor: colour,
          fillOpacity: 0.9,
          className: `node-marker marker-${n.status}`,
        })
          // an element, not a string: Leaflet puts string content in as HTML, and names are set by providers
          .bindTooltip(h('span', null, `${n.name} · ${n.status}`), { permanent: true, direction: 'right', offset: [8, 0], className: 'node-label' })
          .on('click', () => onSelect(n.id))
          .addTo(markers);
      }
      // fit once per set of nodes, so a refresh does not undo the viewer's own pan and zoom
      const key = placed.map((n) => n.id).sort().join();
      if (placed.length && key !== fitted) {
        fitted = key;
        map.fitBounds(L.latLngBounds(placed.map((n) => [n.location!.lat, n.location!.lon])), { padding: [60, 60], maxZoom: 4, animate: false });
      }
    },
    dispose: () => map.remove(),
  };
}
