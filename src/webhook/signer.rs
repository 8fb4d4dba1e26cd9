//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! keyed with the bytes of the secret after `whsec_` (base64-decoded).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret is 'whsec_' followed by base64")]
pub struct BadSecret;

/// A new secret: `whsec_` and 32 random bytes in base64.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

fn key(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).ok_or(BadSecret)?;
    let bytes = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
    if bytes.is_empty() {
        return Err(BadSecret);
    }
    Ok(bytes)
}

/// One signature, `v1,<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?).map_err(|_| BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header value: one signature per secret, space-separated (two
/// while a rotated-out secret is still honoured).
pub fn signature_header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let sigs: Result<Vec<String>, BadSecret> = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect();
    Ok(sigs?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector from the Standard Webhooks / Svix documentation.
    #[test]
    fn the_standard_webhooks_test_vector_signs_as_documented() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_sends_one_signature_per_secret() {
        let a = generate_secret();
        let b = generate_secret();
        let header = signature_header(&[&a, &b], "evt_1", 1, b"{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&a, "evt_1", 1, b"{}").unwrap());
        assert_eq!(parts[1], sign(&b, "evt_1", 1, b"{}").unwrap());
    }

    #[test]
    fn generated_secrets_carry_32_random_bytes() {
        let s = generate_secret();
        assert_eq!(key(&s).unwrap().len(), 32);
        assert_ne!(s, generate_secret());
    }

    #[test]
    fn malformed_secrets_are_refused() {
        assert_eq!(key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Err(BadSecret));
        assert_eq!(key("whsec_!!!"), Err(BadSecret));
        assert_eq!(key("whsec_"), Err(BadSecret));
    }
}
