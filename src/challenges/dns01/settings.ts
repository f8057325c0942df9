/** Settings shared by every dns-01 plugin. */
export interface Dns01Settings {
  /** `--challenge-alias ZONE`: write `_acme-challenge.<name>` records under this zone instead. */
  challengeAlias?: string;
  /**
   * `--dns-resolver HOST[:PORT]`: used for CNAME and zone (SOA) discovery, and for the
   * propagation check instead of the zone's authoritative servers.
   */
  resolvers?: readonly string[];
  /** `--dns-propagation-timeout SECONDS`: how long to wait for every value to be visible. */
  propagationTimeoutMs: number;
  /** `--dns-propagation-wait SECONDS`: plain delay instead of the check. */
  propagationWaitMs?: number;
  /** `--skip-dns-propagation-check` */
  skipPropagationCheck: boolean;
}

export const DEFAULT_DNS01_SETTINGS: Dns01Settings = {
  propagationTimeoutMs: 120_000,
  skipPropagationCheck: false,
};
