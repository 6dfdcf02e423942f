import { type Cidr, inAnyCidr } from "../net/cidr.ts";

/**
 * The client's address for rate limiting and X-Forwarded-For. `X-Forwarded-For` is
 * believed only when the peer is a trusted proxy, and then only up to the first
 * (right-most) address that is not itself trusted, so a client cannot spoof its way
 * around a limit by sending the header itself.
 */
export function clientIp(peer: string, xff: string | null, trusted: readonly Cidr[]): string {
  return isTrustedPeer(peer, trusted) ? forwardedClient(peer, xff, trusted) : peer;
}

/** Whether the peer is one of the forward's trusted proxies. */
export function isTrustedPeer(peer: string, trusted: readonly Cidr[]): boolean {
  return trusted.length > 0 && inAnyCidr(peer, trusted);
}

/** The client behind a trusted peer, from its X-Forwarded-For (see {@linkcode clientIp}). */
export function forwardedClient(
  peer: string,
  xff: string | null,
  trusted: readonly Cidr[],
): string {
  if (xff === null) return peer;
  const hops = xff.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop === "") continue;
    if (!inAnyCidr(hop, trusted)) return hop;
  }
  return hops[0]?.trim() || peer;
}
