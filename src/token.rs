//! Signed recipient tokens: `PAYLOAD.SIG`, where PAYLOAD is the base64url (no padding) of an
//! address or an id and SIG the base64url of the first 16 bytes of HMAC-SHA256(secret,
//! PAYLOAD). A sender puts one in a header or a VERP address; a forged report cannot name
//! an arbitrary address without the secret. Pure.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SIGNATURE_BYTES: usize = 16;

/// Why a token did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not PAYLOAD.SIGNATURE in base64url")]
    Malformed,
    #[error("token signature does not verify (forged, or signed with another secret)")]
    BadSignature,
}

/// Makes a token for `payload` (an address or an id).
pub fn sign(secret: &[u8], payload: &str) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(payload.as_bytes());
    let signature = signature(secret, &encoded);
    format!("{encoded}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Checks a token and returns its payload.
pub fn verify(secret: &[u8], token: &str) -> Result<String, TokenError> {
    let (encoded, signature_text) = token.trim().split_once('.').ok_or(TokenError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::Malformed)?;
    let given = URL_SAFE_NO_PAD
        .decode(signature_text)
        .map_err(|_| TokenError::Malformed)?;
    if given.len() != SIGNATURE_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(encoded.as_bytes());
    mac.verify_truncated_left(&given)
        .map_err(|_| TokenError::BadSignature)?;
    String::from_utf8(payload).map_err(|_| TokenError::Malformed)
}

fn signature(secret: &[u8], encoded: &str) -> [u8; SIGNATURE_BYTES] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(encoded.as_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; SIGNATURE_BYTES];
    out.copy_from_slice(&full[..SIGNATURE_BYTES]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_forgeries() {
        let token = sign(b"fbl-test-secret", "jane@example.org");
        assert_eq!(
            verify(b"fbl-test-secret", &token).unwrap(),
            "jane@example.org"
        );
        assert_eq!(verify(b"other", &token), Err(TokenError::BadSignature));
        assert_eq!(
            verify(b"fbl-test-secret", "nodot"),
            Err(TokenError::Malformed)
        );
        let (payload, _) = token.split_once('.').unwrap();
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode("eve@example.org"),
            &token[payload.len() + 1..]
        );
        assert_eq!(
            verify(b"fbl-test-secret", &forged),
            Err(TokenError::BadSignature)
        );
    }
}
