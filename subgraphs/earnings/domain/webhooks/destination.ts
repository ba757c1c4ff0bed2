import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

/**
 * Where a partner webhook may point. In production: HTTPS only, and never an address inside
 * our network (private, loopback, link-local, CGNAT, multicast, unspecified), checked at
 * creation AND on every connection (the socket connects to the address we checked, so a DNS
 * answer that changes between the two — DNS rebinding — cannot reach an internal service).
 * Development and tests allow http and loopback receivers.
 */
export const MAX_URL_LENGTH = 2048;

const internal = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) internal.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8], ["64:ff9b::", 96]] as const) internal.addSubnet(net, bits, "ipv6");

/** True for an address a partner webhook must never reach in production. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return internal.check(mapped[1], "ipv4");
    return internal.check(address, "ipv6");
  }
  return internal.check(address, "ipv4");
}

export type DestinationCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Syntax and policy of a destination URL (no network). */
export function checkDestinationUrl(raw: string, production: boolean): DestinationCheck {
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: `url must be at most ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "url is not an absolute URL" };
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && !production)) return { ok: false, reason: production ? "url must use https" : "url must use http or https" };
  if (url.username || url.password) return { ok: false, reason: "url must not carry credentials" };
  if (production) {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".internal") || host.endsWith(".local")) return { ok: false, reason: "url must not point to an internal host" };
    if (isIP(host) && isInternalAddress(host)) return { ok: false, reason: "url must not point to a private, loopback or link-local address" };
  }
  return { ok: true, url };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that refuses internal addresses in production: the connection
 * goes to exactly the address that passed the check.
 */
export function guardedLookup(production: boolean) {
  return (hostname: string, options: { all?: boolean } & Record<string, unknown>, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const allowed = production ? list.filter((a) => !isInternalAddress(a.address)) : list;
      if (allowed.length === 0) {
        const refused = Object.assign(new Error(`${hostname} resolves only to internal addresses`), { code: "EDESTINATION" });
        return callback(refused, []);
      }
      if (options.all) return callback(null, allowed);
      return callback(null, allowed[0].address, allowed[0].family);
    });
  };
}
