//! Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
//! by the bytes of a `whsec_<base64>` secret.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A decoded signing secret. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// Parses `whsec_<base64>`; the error never echoes the secret.
    pub fn parse(secret: &str) -> Result<Self, String> {
        let encoded = secret
            .trim()
            .strip_prefix("whsec_")
            .ok_or_else(|| "signing secret must start with `whsec_`".to_owned())?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| "signing secret after `whsec_` is not valid base64".to_owned())?;
        if key.len() < 16 {
            return Err(format!("signing secret must decode to at least 16 bytes, got {}", key.len()));
        }
        Ok(Self(key))
    }

    /// The `webhook-signature` header value for a message.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl SigningKey {
    /// Whether `header` (a `webhook-signature` value: space-separated
    /// `v1,<base64>` entries) holds a signature of the message by this key.
    /// Compared in constant time.
    pub fn verify(&self, id: &str, timestamp: u64, body: &[u8], header: &str) -> bool {
        header.split_whitespace().filter_map(|entry| entry.strip_prefix("v1,")).any(|sig| {
            let Ok(expected) = STANDARD.decode(sig) else { return false };
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else { return false };
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        })
    }
}

/// Whether `signature` (hex, optionally after `sha256=`) is the HMAC-SHA256
/// of `body` keyed by `secret`'s bytes. Compared in constant time.
pub fn verify_hmac_sha256(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let hex_part = signature.trim();
    let hex_part = hex_part.strip_prefix("sha256=").unwrap_or(hex_part);
    let Ok(expected) = hex::decode(hex_part) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks specification's test suite.
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn verifies_its_own_signatures_and_github_style_hmacs() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = key.sign("m1", 10, b"body");
        assert!(key.verify("m1", 10, b"body", &format!("v1,bm9wZQ== {sig}")));
        assert!(!key.verify("m1", 11, b"body", &sig));
        assert!(!key.verify("m1", 10, b"body!", &sig));
        // GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify_hmac_sha256(b"It's a Secret to Everybody", b"Hello, World!", good));
        assert!(!verify_hmac_sha256(b"It's a Secret to Everybody", b"Hello, World?", good));
        assert!(!verify_hmac_sha256(b"x", b"y", "sha256=zz"));
    }

    #[test]
    fn rejects_malformed_secrets_without_echoing_them() {
        let err = SigningKey::parse("hunter2hunter2hunter2").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(SigningKey::parse("whsec_!!!").is_err());
        assert!(SigningKey::parse("whsec_c2hvcnQ=").is_err());
    }
}
