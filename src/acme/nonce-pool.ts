/**
 * Anti-replay nonces (RFC 8555 §7.2): a small LIFO pool fed from every response's Replay-Nonce,
 * so a steady run needs no extra round trip; newNonce only when the pool is empty.
 */
const NONCE_PATTERN = /^[A-Za-z0-9_-]+$/;

export class NoncePool {
  private readonly nonces: string[] = [];

  constructor(private readonly capacity = 64) {}

  /** Keeps a nonce from a response header; ignores absent or malformed values. */
  add(nonce: string | undefined): void {
    if (nonce === undefined || !NONCE_PATTERN.test(nonce) || nonce.length > 512) return;
    this.nonces.push(nonce);
    if (this.nonces.length > this.capacity) this.nonces.shift();
  }

  take(): string | undefined {
    return this.nonces.pop();
  }

  get size(): number {
    return this.nonces.length;
  }
}
