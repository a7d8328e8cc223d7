/** Per-enablement key material, as the command side needs it: public half and MAC key only. */
export interface InstanceKey {
  id: string;
  publicKey: Uint8Array;
  macKey: Uint8Array;
}

export interface InstanceKeyring {
  create(instance: string): Promise<InstanceKey>;
  /** Undefined when the key does not exist or was destroyed. */
  find(keyId: string): Promise<InstanceKey | undefined>;
  /** Destroys the key material for good (crypto-shredding); idempotent. */
  shred(keyId: string): Promise<void>;
  /** Removes a key that no event ever referenced (an append that lost a race). */
  discard(keyId: string): Promise<void>;
}
