import sodium from 'libsodium-wrappers';

/** Ed25519 detached-signature check with libsodium; false (never a throw) for malformed input. */
export type SignatureVerifier = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

export async function loadSignatureVerifier(): Promise<SignatureVerifier> {
  await sodium.ready;
  return (signature, message, publicKey) => {
    if (signature.length !== sodium.crypto_sign_BYTES || publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES) return false;
    try {
      return sodium.crypto_sign_verify_detached(signature, message, publicKey);
    } catch {
      return false;
    }
  };
}
