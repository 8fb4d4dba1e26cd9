//! Admin JWTs that cannot be forged or stretched: time claims, lifetime, issuer and
//! audience, and tokens signed by the operator's own keys (RS256, ES256, EdDSA).

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{ADMIN_SECRET, Backend, TestApp, spawn_app_with};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sign(header: Header, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hs256(claims: &Value) -> String {
    sign(
        Header::new(Algorithm::HS256),
        &EncodingKey::from_secret(ADMIN_SECRET.as_bytes()),
        claims,
    )
}

fn claims(extra: Value) -> Value {
    let mut c = json!({"sub": "ops", "iat": now(), "exp": now() + 600, "scope": "offboard:admin"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.client
        .get(app.admin("/audit-log?limit=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

db_test!(admin_jwts_with_bad_time_claims_or_too_long_a_life_are_refused);
async fn admin_jwts_with_bad_time_claims_or_too_long_a_life_are_refused(app: TestApp) {
    let t = now();
    for (name, c, want) in [
        ("valid", claims(json!({})), 200),
        (
            "scope as a list",
            claims(json!({"scope": ["email", "offboard:admin"]})),
            200,
        ),
        (
            "issued in the future",
            claims(json!({"iat": t + 3600, "exp": t + 4000})),
            401,
        ),
        ("not valid yet", claims(json!({"nbf": t + 3600})), 401),
        ("nbf within the leeway", claims(json!({"nbf": t + 5})), 200),
        ("lives 25 hours", claims(json!({"exp": t + 25 * 3600})), 401),
        ("lives 24 hours", claims(json!({"exp": t + 24 * 3600})), 200),
        (
            "long-lived, issued long ago",
            claims(json!({"iat": t - 30 * 86400, "exp": t + 60})),
            401,
        ),
        ("no iat", claims(json!({"iat": null})), 401),
        ("no exp", claims(json!({"exp": null})), 401),
        (
            "expired",
            claims(json!({"iat": t - 7200, "exp": t - 3600})),
            401,
        ),
    ] {
        assert_eq!(status_with(&app, &hs256(&c)).await, want, "{name}");
    }
    // Unsigned, or signed with an algorithm the operator did not configure.
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(json!({})))
    );
    assert_eq!(status_with(&app, &unsigned).await, 401);
    let hs512 = sign(
        Header::new(Algorithm::HS512),
        &EncodingKey::from_secret(ADMIN_SECRET.as_bytes()),
        &claims(json!({})),
    );
    assert_eq!(status_with(&app, &hs512).await, 401);
}

db_test!(
    issuer_and_audience_are_checked_when_configured,
    [
        ("OFFBOARD_ADMIN_JWT_ISSUER", "https://login.example.com"),
        ("OFFBOARD_ADMIN_JWT_AUDIENCE", "offboard-admin"),
    ]
);
async fn issuer_and_audience_are_checked_when_configured(app: TestApp) {
    let iss = "https://login.example.com";
    for (name, c, want) in [
        (
            "both",
            claims(json!({"iss": iss, "aud": "offboard-admin"})),
            200,
        ),
        (
            "audience list",
            claims(json!({"iss": iss, "aud": ["x", "offboard-admin"]})),
            200,
        ),
        ("no issuer", claims(json!({"aud": "offboard-admin"})), 401),
        (
            "wrong issuer",
            claims(json!({"iss": "https://evil.example", "aud": "offboard-admin"})),
            401,
        ),
        ("no audience", claims(json!({"iss": iss})), 401),
        (
            "wrong audience",
            claims(json!({"iss": iss, "aud": "someone-else"})),
            401,
        ),
    ] {
        assert_eq!(status_with(&app, &hs256(&c)).await, want, "{name}");
    }
    // What `offboard admin-token` mints carries both.
    let minted = offboard::auth::issue_admin_token_with(
        ADMIN_SECRET,
        "cli",
        std::time::Duration::from_secs(60),
        Some(iss),
        Some("offboard-admin"),
    )
    .unwrap();
    assert_eq!(status_with(&app, &minted).await, 200);
}

struct Keys {
    rsa: (EncodingKey, String),
    ec: (EncodingKey, String, String),
    ed: (EncodingKey, String, String),
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Fresh key pairs: (signing key, public PEM[, public JWK]).
fn keys() -> (Keys, Value) {
    use rand_core::OsRng;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use rsa::traits::PublicKeyParts;

    let rsa_key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    let rsa_private = rsa_key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let rsa_public = rsa_key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let rsa_jwk = json!({
        "kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
        "n": b64url(&rsa_key.n().to_bytes_be()),
        "e": b64url(&rsa_key.e().to_bytes_be()),
    });

    let ec_key = p256::SecretKey::random(&mut OsRng);
    let ec_private = ec_key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let ec_public = ec_key
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let mut ec_jwk: Value = serde_json::from_str(&ec_key.public_key().to_jwk_string()).unwrap();
    ec_jwk["kid"] = json!("ec-1");

    let ed_key = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let ed_private = ed_key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let ed_public = ed_key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let ed_jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
        "x": b64url(ed_key.verifying_key().as_bytes()),
    });

    let jwks = json!({"keys": [rsa_jwk, ec_jwk.clone(), ed_jwk.clone()]});
    (
        Keys {
            rsa: (
                EncodingKey::from_rsa_pem(rsa_private.as_bytes()).unwrap(),
                rsa_public,
            ),
            ec: (
                EncodingKey::from_ec_pem(ec_private.as_bytes()).unwrap(),
                ec_public,
                ec_jwk.to_string(),
            ),
            ed: (
                EncodingKey::from_ed_pem(ed_private.as_bytes()).unwrap(),
                ed_public,
                ed_jwk.to_string(),
            ),
        },
        jwks,
    )
}

fn signed(alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    sign(header, key, &claims(json!({})))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tokens_signed_with_the_operators_public_keys_are_accepted() {
    let (mine, jwks) = keys();
    let (theirs, _) = keys();
    let dir = tempfile::tempdir().unwrap();

    // A PEM file with several public keys.
    let pem_path = dir.path().join("admin-keys.pem");
    std::fs::write(
        &pem_path,
        format!("{}\n{}\n{}", mine.rsa.1, mine.ec.1, mine.ed.1),
    )
    .unwrap();
    let pem_path = pem_path.display().to_string();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("OFFBOARD_ADMIN_JWT_PUBLIC_KEYS", pem_path.as_str())],
    )
    .await;
    for (alg, key, want) in [
        (Algorithm::RS256, &mine.rsa.0, 200),
        (Algorithm::ES256, &mine.ec.0, 200),
        (Algorithm::EdDSA, &mine.ed.0, 200),
        (Algorithm::RS256, &theirs.rsa.0, 401),
        (Algorithm::ES256, &theirs.ec.0, 401),
        (Algorithm::EdDSA, &theirs.ed.0, 401),
    ] {
        let token = signed(alg, None, key);
        assert_eq!(status_with(&app, &token).await, want, "{alg:?} PEM");
    }
    // The HS256 secret still works beside them.
    assert_eq!(status_with(&app, &app.admin_token).await, 200);

    // A JWKS file: keys chosen by `kid` when the token names one.
    let jwks_path = dir.path().join("admin-keys.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    let jwks_path = jwks_path.display().to_string();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("OFFBOARD_ADMIN_JWT_PUBLIC_KEYS", jwks_path.as_str())],
    )
    .await;
    for (alg, kid, key, want) in [
        (Algorithm::RS256, Some("rsa-1"), &mine.rsa.0, 200),
        (Algorithm::ES256, Some("ec-1"), &mine.ec.0, 200),
        (Algorithm::EdDSA, None, &mine.ed.0, 200),
        (Algorithm::ES256, Some("rsa-1"), &mine.ec.0, 401),
        (Algorithm::RS256, Some("rsa-1"), &theirs.rsa.0, 401),
        (Algorithm::EdDSA, Some("ed-1"), &theirs.ed.0, 401),
    ] {
        let token = signed(alg, kid, key);
        assert_eq!(
            status_with(&app, &token).await,
            want,
            "{alg:?} {kid:?} JWKS"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_file_or_a_short_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.pem");
    {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        let key = p256::SecretKey::random(&mut rand_core::OsRng);
        std::fs::write(
            &private,
            key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
    }
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a key").unwrap();
    let missing = dir.path().join("missing.pem");
    for path in [&private, &junk, &missing] {
        let path = path.display().to_string();
        let db = format!("sqlite://{}/o.db?mode=rwc", dir.path().display());
        let settings = offboard::configuration::Settings::from_lookup(|k| match k {
            "OFFBOARD_ADMIN_JWT_PUBLIC_KEYS" => Some(path.clone()),
            "OFFBOARD_DATABASE_URL" => Some(db.clone()),
            "OFFBOARD_LISTEN" => Some("127.0.0.1:0".into()),
            _ => None,
        })
        .unwrap();
        let err = offboard::startup::Application::build(settings)
            .await
            .err()
            .unwrap_or_else(|| panic!("{path} was accepted"));
        assert!(
            format!("{err:#}").contains("OFFBOARD_ADMIN_JWT_PUBLIC_KEYS"),
            "{err:#}"
        );
    }
    let err = offboard::configuration::Settings::from_lookup(|k| {
        (k == "OFFBOARD_ADMIN_JWT_SECRET").then(|| "short-secret".to_string())
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("at least 32"), "{err}");
}
