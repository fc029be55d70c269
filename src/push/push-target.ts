/**
 * How a device asked to be woken (docs/push.md). Neither kind carries
 * anything about messages: the relay only ever tells the endpoint that
 * something is waiting, and how many.
 */
export type PushTarget = { kind: 'webpush'; endpoint: string; p256dh: string; auth: string } | { kind: 'webhook'; token: string };

export type PushKind = PushTarget['kind'];

/** A device that has a target, and what is waiting for it. */
export interface PushJob {
  user: string;
  device: string;
  target: PushTarget;
  /** Stored frames waiting for the device, counted up to a bound (the only thing a push tells). */
  waiting: number;
}

/**
 * Whether a Web Push endpoint may be called. The relay POSTs to the URL a
 * client handed it, so without a list of push services any device could
 * make the relay call into the operator's own network. The list holds
 * origins (`https://fcm.googleapis.com`); an entry may start with `*.` to
 * cover subdomains of a host, and plain `http:` passes only when its
 * origin is listed exactly (a local test service).
 */
export function endpointAllowed(endpoint: string, allowed: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  for (const entry of allowed) {
    if (entry === url.origin) return true;
    if (url.protocol !== 'https:') continue;
    const wildcard = /^https:\/\/\*\.([^/:]+)$/.exec(entry);
    if (wildcard && url.port === '' && url.hostname.endsWith(`.${wildcard[1]}`)) return true;
  }
  return false;
}

/** Push services of the browsers in use today (Chrome and Edge, Firefox, Safari, Windows). */
export const DEFAULT_PUSH_ORIGINS: readonly string[] = ['https://fcm.googleapis.com', 'https://updates.push.services.mozilla.com', 'https://web.push.apple.com', 'https://*.notify.windows.com'];
