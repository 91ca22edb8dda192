// Which ready replica a request tries first. Pure. Nearest first (great-circle distance from the routing
// tier's location to the replica's node, in bands so that replicas in one metro area count as equally near
// and share the load), then fewest requests in flight from this router, then a rotation so equal replicas
// take turns. Replicas whose node location is unknown come after every located one; replicas that just
// refused a connection (suspects) come last of all, still tried when nothing else is left.
import { haversineKm } from '../domain/matcher/scorers';

export interface LatLon {
  lat: number;
  lon: number;
}

export interface OrderInput {
  id: string;
  location?: LatLon;
  inflight: number;
  suspect: boolean;
}

/** Distances within one band of this many km count as the same. */
export const DISTANCE_BAND_KM = 100;

export function orderReplicas<T extends OrderInput>(replicas: readonly T[], from: LatLon | undefined, rotation = 0): T[] {
  const band = (r: T) => (from && r.location ? Math.floor(haversineKm(from, r.location) / DISTANCE_BAND_KM) : Number.POSITIVE_INFINITY);
  const n = replicas.length;
  const keyed = replicas.map((r, i) => ({ r, suspect: r.suspect ? 1 : 0, band: band(r), turn: n ? (i - (rotation % n) + n) % n : 0 }));
  keyed.sort((a, b) => a.suspect - b.suspect || (a.band === b.band ? 0 : a.band < b.band ? -1 : 1) || a.r.inflight - b.r.inflight || a.turn - b.turn);
  return keyed.map((k) => k.r);
}

/** `lat,lon` (ROUTER_LOCATION) → a location, or undefined when absent or malformed. */
export function parseLatLon(text: string | undefined): LatLon | undefined {
  if (!text) return undefined;
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!m) return undefined;
  const lat = Number(m[1]);
  const lon = Number(m[2]);
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : undefined;
}
