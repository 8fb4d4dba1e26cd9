//! Admin JWTs: the claims they carry, how they are verified (HS256 with the shared secret,
//! or RS256/ES256 public keys) and how the CLI issues them. Nothing here knows HTTP: the
//! request extractors that use it live in `routes::extract`. Tokens are never logged.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use crate::configuration::MIN_SECRET_BYTES;

pub const ADMIN_SCOPE: &str = "offboard:admin";

/// The claims an admin JWT carries. `scope` may be a space-separated string or a list.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// A string or a list, as RFC 7519 allows; checked by the JWT library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    #[serde(default)]
    pub scope: Scopes,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scopes {
    #[default]
    None,
    Spaced(String),
    List(Vec<String>),
}

impl Scopes {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Scopes::None => false,
            Scopes::Spaced(s) => s.split_whitespace().any(|s| s == wanted),
            Scopes::List(l) => l.iter().any(|s| s == wanted),
        }
    }
}

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 30;

/// One public key admin tokens may be signed with.
struct PublicKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies admin JWTs: HS256 with `OFFBOARD_ADMIN_JWT_SECRET`, and RS256, ES256 or EdDSA
/// with the public keys of `OFFBOARD_ADMIN_JWT_PUBLIC_KEYS` (a PEM or a JWKS file), so
/// an operator's own identity system can mint admin tokens without sharing a secret.
pub struct AdminVerifier {
    secret: Option<DecodingKey>,
    public_keys: Vec<PublicKey>,
    issuer: Option<String>,
    audience: Option<String>,
    max_ttl_secs: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminAuthError {
    #[error(
        "the admin API is disabled: neither OFFBOARD_ADMIN_JWT_SECRET nor OFFBOARD_ADMIN_JWT_PUBLIC_KEYS is set"
    )]
    Disabled,
    #[error("the token is invalid or expired")]
    Invalid,
    #[error("the token's lifetime exceeds OFFBOARD_ADMIN_JWT_MAX_TTL")]
    TooLong,
    #[error("the token is issued in the future")]
    IssuedInFuture,
    #[error("the token lacks the '{ADMIN_SCOPE}' scope")]
    MissingScope,
}

impl AdminVerifier {
    /// Reads the secret and the public keys; a malformed key file refuses to start.
    pub fn from_settings(settings: &crate::configuration::Settings) -> anyhow::Result<Self> {
        use anyhow::Context;
        let public_keys = match &settings.admin_jwt_public_keys {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("OFFBOARD_ADMIN_JWT_PUBLIC_KEYS: cannot read {path}")
                })?;
                parse_public_keys(&text)
                    .with_context(|| format!("OFFBOARD_ADMIN_JWT_PUBLIC_KEYS: {path}"))?
            }
            None => Vec::new(),
        };
        Ok(AdminVerifier {
            secret: settings
                .admin_jwt_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.as_bytes())),
            public_keys,
            issuer: settings.admin_jwt_issuer.clone(),
            audience: settings.admin_jwt_audience.clone(),
            max_ttl_secs: i64::try_from(settings.admin_jwt_max_ttl.as_secs()).unwrap_or(i64::MAX),
        })
    }

    pub fn enabled(&self) -> bool {
        self.secret.is_some() || !self.public_keys.is_empty()
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AdminAuthError> {
        if !self.enabled() {
            return Err(AdminAuthError::Disabled);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AdminAuthError::Invalid)?;
        let candidates: Vec<&DecodingKey> = match header.alg {
            Algorithm::HS256 => self.secret.iter().collect(),
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA => self
                .public_keys
                .iter()
                .filter(|k| k.algorithm == header.alg)
                .filter(|k| match (&header.kid, &k.kid) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                })
                .map(|k| &k.key)
                .collect(),
            _ => Vec::new(),
        };
        let mut validation = Validation::new(header.alg);
        let mut required = vec!["exp", "sub", "iat"];
        if self.issuer.is_some() {
            required.push("iss");
        }
        if self.audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let claims = candidates
            .into_iter()
            .find_map(|key| jsonwebtoken::decode::<Claims>(token, key, &validation).ok())
            .map(|data| data.claims)
            .ok_or(AdminAuthError::Invalid)?;
        let now = Utc::now().timestamp();
        if claims.iat > now + LEEWAY_SECS as i64 {
            return Err(AdminAuthError::IssuedInFuture);
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_ttl_secs {
            return Err(AdminAuthError::TooLong);
        }
        if !claims.scope.contains(ADMIN_SCOPE) {
            return Err(AdminAuthError::MissingScope);
        }
        Ok(claims)
    }
}

/// Whether a JWKS document's keys carry private members: `d` (RSA, EC, OKP), RSA's
/// primes and exponents, or a symmetric `k`. Read as members of each key, not as text:
/// a public key whose `kid` is "d" is a public key.
fn holds_private_jwk(doc: &serde_json::Value) -> bool {
    const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    doc.get("keys")
        .and_then(|k| k.as_array())
        .is_some_and(|keys| {
            keys.iter()
                .any(|key| PRIVATE_MEMBERS.iter().any(|m| key.get(m).is_some()))
        })
}

/// Public keys from a JWKS document or from one or more PEM blocks. The algorithm comes
/// from the key (`alg` in a JWK, else its type): RSA RS256, P-256 ES256, Ed25519 EdDSA.
fn parse_public_keys(text: &str) -> anyhow::Result<Vec<PublicKey>> {
    use anyhow::{Context, bail};
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
    const PRIVATE: &str = "the file holds a private key; give offboard only public keys";
    let mut keys = Vec::new();
    if text.trim_start().starts_with('{') {
        let doc: serde_json::Value = serde_json::from_str(text).context("not a JWKS document")?;
        if holds_private_jwk(&doc) {
            bail!(PRIVATE);
        }
        let set: JwkSet = serde_json::from_value(doc).context("not a JWKS document")?;
        for jwk in &set.keys {
            let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
                (Some(KeyAlgorithm::RS256), _) => Algorithm::RS256,
                (Some(KeyAlgorithm::ES256), _) => Algorithm::ES256,
                (Some(KeyAlgorithm::EdDSA), _) => Algorithm::EdDSA,
                (Some(other), _) => bail!("key algorithm {other:?} is not supported"),
                (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
                (None, AlgorithmParameters::EllipticCurve(p)) if p.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                (None, AlgorithmParameters::OctetKeyPair(p))
                    if p.curve == EllipticCurve::Ed25519 =>
                {
                    Algorithm::EdDSA
                }
                _ => bail!("a key of this type is not supported (RSA, P-256 or Ed25519)"),
            };
            keys.push(PublicKey {
                kid: jwk.common.key_id.clone(),
                algorithm,
                key: DecodingKey::from_jwk(jwk).context("a JWK is not a valid key")?,
            });
        }
    } else {
        let mut rest = text;
        while let Some(start) = rest.find("-----BEGIN ") {
            let block = &rest[start..];
            let end_marker = block
                .find("-----END ")
                .context("a PEM block is not closed")?;
            let end = block[end_marker + 9..]
                .find("-----")
                .map(|i| end_marker + 9 + i + 5)
                .context("a PEM block is not closed")?;
            let pem = &block[..end];
            let label = block["-----BEGIN ".len()..]
                .split("-----")
                .next()
                .unwrap_or_default();
            if label.contains("PRIVATE KEY") {
                bail!(PRIVATE);
            }
            let (algorithm, key) = if let Ok(k) = DecodingKey::from_ec_pem(pem.as_bytes()) {
                (Algorithm::ES256, k)
            } else if let Ok(k) = DecodingKey::from_ed_pem(pem.as_bytes()) {
                (Algorithm::EdDSA, k)
            } else if let Ok(k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
                (Algorithm::RS256, k)
            } else {
                bail!("a PEM block is not an RSA, P-256 or Ed25519 public key");
            };
            keys.push(PublicKey {
                kid: None,
                algorithm,
                key,
            });
            rest = &block[end..];
        }
    }
    if keys.is_empty() {
        bail!("no public key found");
    }
    Ok(keys)
}

/// Signs an admin JWT (HS256) for `subject`, valid for `ttl`.
pub fn issue_admin_token(
    secret: &str,
    subject: &str,
    ttl: std::time::Duration,
) -> anyhow::Result<String> {
    issue_admin_token_with(secret, subject, ttl, None, None)
}

/// Signs an admin JWT (HS256) with `iss` and `aud` when given (`offboard admin-token`
/// sets the configured ones, so its tokens pass the checks `serve` makes).
pub fn issue_admin_token_with(
    secret: &str,
    subject: &str,
    ttl: std::time::Duration,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> anyhow::Result<String> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: subject.to_string(),
        iat: now,
        nbf: Some(now),
        exp: now + i64::try_from(ttl.as_secs())?,
        iss: issuer.map(str::to_string),
        aud: audience.map(|a| serde_json::Value::String(a.to_string())),
        scope: Scopes::Spaced(ADMIN_SCOPE.to_string()),
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "M_lftNP0Pb42-H3SmnqgQF-M-SJu5mdrHV09nNEdjA8";
    const Y: &str = "ZReezDvXVgZJ6x3GHxpkh-9_Ieb5C12vARPVxz60OiY";

    fn jwks(extra: &str) -> String {
        format!(r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}"{extra}}}]}}"#)
    }

    #[test]
    fn a_public_key_named_d_is_a_public_key() {
        let keys = parse_public_keys(&jwks(r#","kid":"d""#)).expect("accepted");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("d"));
        assert_eq!(keys[0].algorithm, Algorithm::ES256);
    }

    #[test]
    fn private_members_and_private_pem_blocks_are_refused() {
        let err = parse_public_keys(&jwks(r#","d":"AAAA""#))
            .err()
            .expect("refused");
        assert!(err.to_string().contains("private key"), "{err}");
        let err = parse_public_keys(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("private key"), "{err}");
        let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n";
        let err = parse_public_keys(pem).err().expect("refused");
        assert!(err.to_string().contains("private key"), "{err}");
        let public = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEM/lftNP0Pb42+H3SmnqgQF+M+SJu\n5mdrHV09nNEdjA9lF57MO9dWBknrHcYfGmSH738h5vkLXa8BE9XHPrQ6Jg==\n-----END PUBLIC KEY-----\n";
        assert_eq!(
            parse_public_keys(public).unwrap()[0].algorithm,
            Algorithm::ES256
        );
    }
}
