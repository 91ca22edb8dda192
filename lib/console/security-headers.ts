// The response headers every console file is served with, by the local gateway and by CloudFront (one
// list, so the two cannot drift). The CSP allows only this origin: no CDN, no tile server, no web font;
// `data:` images are Leaflet's small control icons, inlined by the build.

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // API keys never travel in URLs, but links out of the console need not say where they came from
  'referrer-policy': 'no-referrer',
};

/** Path prefix the console lives under, on the local gateway and on CloudFront alike. */
export const CONSOLE_PATH = '/console';
