/** The part of sodium-native (libsodium bindings, which ship no types) that ed25519.ts calls. */
declare module 'sodium-native' {
  /** Writes the 64-byte Ed25519 signature of `message` by the 64-byte `secretKey` (seed, then public key) into `signature`. */
  export function crypto_sign_detached (signature: Buffer, message: Buffer, secretKey: Buffer): void
  /** Whether `signature` (64 bytes) is the 32-byte `publicKey`'s over `message`. */
  export function crypto_sign_verify_detached (signature: Buffer, message: Buffer, publicKey: Buffer): boolean
}
