//! Configuration: every setting has a default and an `OFFBOARD_*` environment override.

use std::time::Duration;

use anyhow::Context;

/// The shortest HS256 secret accepted: RFC 7518 §3.2 asks for a key at least as long as
/// the hash (256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    /// HS256 secret for admin JWTs (at least 32 bytes); without it or public keys the
    /// admin API refuses every request.
    pub admin_jwt_secret: Option<String>,
    /// A PEM or JWKS file of public keys (RS256, ES256, EdDSA) admin JWTs may be signed with.
    pub admin_jwt_public_keys: Option<String>,
    /// When set, admin JWTs must carry this `iss`.
    pub admin_jwt_issuer: Option<String>,
    /// When set, admin JWTs must carry this `aud`.
    pub admin_jwt_audience: Option<String>,
    /// The longest lifetime (`exp - iat`) an admin JWT may have.
    pub admin_jwt_max_ttl: Duration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    /// Database pool size.
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before answering 503.
    pub db_acquire_timeout: Duration,
    /// How long a deleted account's personal data stays (restorable) before the purge.
    pub deletion_grace: Duration,
    /// How often `serve` runs the purge (grace period and retention policy).
    pub purge_interval: Duration,
    /// How long a job's lease lasts without progress (`OFFBOARD_JOB_LEASE`): after a
    /// crash, another process takes the job over once it runs out.
    pub job_lease: Duration,
    /// An organization whose tokens made no request for this long is `quiet`
    /// (`OFFBOARD_CONNECTION_QUIET_AFTER`, default 7 days).
    pub connection_quiet_after: Duration,
    /// How often connection health recorded in memory is written
    /// (`OFFBOARD_CONNECTION_FLUSH_INTERVAL`, default 10 s).
    pub connection_flush_interval: Duration,
    /// SCIM requests the inspector keeps per organization (`OFFBOARD_INSPECTOR_KEEP`,
    /// default 1,000; 0 turns the inspector off).
    pub inspector_keep: u64,
    /// How long the inspector keeps a request (`OFFBOARD_INSPECTOR_MAX_AGE`, default 7
    /// days; whichever of the two limits is reached first applies).
    pub inspector_max_age: Duration,
    /// Whether this process runs jobs (`OFFBOARD_JOB_WORKER`, default true): off, it
    /// only accepts them, and another process runs them.
    pub job_worker: bool,
    pub webhook: WebhookSettings,
    /// HTTPS on `OFFBOARD_LISTEN` (`OFFBOARD_TLS_CERT`, `OFFBOARD_TLS_KEY`); plain HTTP
    /// without it.
    pub tls: Option<TlsFiles>,
    /// Whether the metrics listener serves HTTPS with the same pair (`OFFBOARD_METRICS_TLS`;
    /// plain by default: it is for a scraper on the same machine or network).
    pub metrics_tls: bool,
    /// The address IdPs and browsers reach offboard at (`OFFBOARD_PUBLIC_URL`): every link
    /// offboard serves or prints is built on it. Without it, links follow the request.
    pub public_url: Option<PublicUrl>,
    /// Peers whose forwarded headers are believed (`OFFBOARD_TRUSTED_PROXIES`).
    pub trusted_proxies: crate::forwarded::TrustedProxies,
    /// Where `/metrics` is served, apart from the port the IdPs call; `None` when off.
    pub metrics_listen: Option<String>,
    pub limits: Limits,
}

/// What one client may hold of the server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Deadline for reading a request's head and body.
    pub request_timeout: Duration,
    /// Requests in flight per bearer token.
    pub in_flight_per_token: usize,
    /// Requests in flight per client address (generous: IdPs share egress addresses).
    pub in_flight_per_address: usize,
    /// Default SCIM request rate per organization (per process), and its burst.
    pub rate_per_second: u32,
    pub rate_burst: u32,
}

pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
/// The most requests an organization may keep (`OFFBOARD_INSPECTOR_KEEP`).
pub const MAX_INSPECTOR_KEEP: u64 = 1_000_000;

/// The certificate chain and private key `serve` answers HTTPS with (PEM files; the chain
/// is the certificate file's blocks, leaf first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// `https://scim.example.com` (or with a path prefix): a base URL with no query, fragment
/// or credentials, kept without its trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(raw.trim())
            .with_context(|| format!("'{raw}' is not a URL (e.g. https://scim.example.com)"))?;
        if !matches!(url.scheme(), "http" | "https") {
            anyhow::bail!("'{raw}' must start with https:// (or http://)");
        }
        if url.host_str().is_none_or(str::is_empty) {
            anyhow::bail!("'{raw}' has no host");
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            anyhow::bail!("'{raw}' must be a base URL: no query, fragment or credentials");
        }
        Ok(PublicUrl(url.as_str().trim_end_matches('/').to_string()))
    }

    /// The URL, without a trailing slash: append `/scim/v2`, `/console`, ….
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

/// How events are delivered.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Delay before each retry; after the last one a delivery is dead.
    pub retry_schedule: Vec<Duration>,
    /// Per attempt, connection included.
    pub timeout: Duration,
    /// How long a claimed delivery belongs to its process; longer than `timeout`, so a
    /// live owner always finishes first. A crashed owner's deliveries wait this long.
    pub lease: Duration,
    /// Endpoints on loopback/private/link-local addresses are refused unless this is set.
    pub allow_private: bool,
    /// Deliveries in flight per process.
    pub concurrency: usize,
    /// Deliveries in flight per endpoint, unless the endpoint sets its own.
    pub endpoint_concurrency: u32,
    /// When an endpoint's circuit breaker opens, and for how long.
    pub breaker: crate::domain::breaker::Policy,
    /// How long events stay after every delivery of theirs is final.
    pub event_retention: Duration,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
    /// How often an idle dispatcher looks for due deliveries (it is also woken at once
    /// by writes in its own process).
    pub poll_interval: Duration,
    /// On SIGTERM, how long in-flight deliveries may take to finish.
    pub shutdown_timeout: Duration,
    /// Whether `serve` runs a dispatcher at all.
    pub dispatch: bool,
}

impl std::fmt::Debug for Settings {
    // Hand-written so the secret and database credentials never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database", &crate::db::redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field(
                "admin_jwt_secret",
                &self.admin_jwt_secret.as_ref().map(|_| "<set>"),
            )
            .field("admin_jwt_public_keys", &self.admin_jwt_public_keys)
            .field("admin_jwt_issuer", &self.admin_jwt_issuer)
            .field("admin_jwt_audience", &self.admin_jwt_audience)
            .field("admin_jwt_max_ttl", &self.admin_jwt_max_ttl)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("log_format", &self.log_format)
            .field("deletion_grace", &self.deletion_grace)
            .field("purge_interval", &self.purge_interval)
            .field("job_lease", &self.job_lease)
            .field("connection_quiet_after", &self.connection_quiet_after)
            .field("connection_flush_interval", &self.connection_flush_interval)
            .field("inspector_keep", &self.inspector_keep)
            .field("inspector_max_age", &self.inspector_max_age)
            .field("job_worker", &self.job_worker)
            .field("webhook", &self.webhook)
            .field("metrics_listen", &self.metrics_listen)
            .field("tls", &self.tls)
            .field("metrics_tls", &self.metrics_tls)
            .field("public_url", &self.public_url)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("limits", &self.limits)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://offboard.db?mode=rwc";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup`, so tests can configure without the process env.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let max_body_bytes = match get("OFFBOARD_MAX_BODY_BYTES") {
            Some(v) => v
                .trim()
                .parse()
                .context("OFFBOARD_MAX_BODY_BYTES must be a number")?,
            None => DEFAULT_MAX_BODY_BYTES,
        };
        let log_format = match get("OFFBOARD_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                anyhow::bail!("OFFBOARD_LOG_FORMAT must be 'text' or 'json', not '{other}'")
            }
        };
        let db_max_connections = match get("OFFBOARD_DB_MAX_CONNECTIONS") {
            Some(v) => v
                .trim()
                .parse()
                .context("OFFBOARD_DB_MAX_CONNECTIONS must be a number")?,
            None => 10,
        };
        let duration = |k: &str, default: Duration| -> anyhow::Result<Duration> {
            match get(k) {
                Some(v) => parse_duration(&v).with_context(|| format!("{k} is not valid")),
                None => Ok(default),
            }
        };
        let deletion_grace = duration("OFFBOARD_DELETION_GRACE", Duration::ZERO)?;
        let purge_interval = duration("OFFBOARD_PURGE_INTERVAL", Duration::from_secs(60))?;
        if purge_interval.is_zero() {
            anyhow::bail!("OFFBOARD_PURGE_INTERVAL must be greater than zero");
        }
        let job_lease = duration("OFFBOARD_JOB_LEASE", Duration::from_secs(30))?;
        let connection_quiet_after = duration(
            "OFFBOARD_CONNECTION_QUIET_AFTER",
            Duration::from_secs(7 * 24 * 3600),
        )?;
        let connection_flush_interval = duration(
            "OFFBOARD_CONNECTION_FLUSH_INTERVAL",
            Duration::from_secs(10),
        )?;
        if connection_flush_interval < Duration::from_millis(10) {
            anyhow::bail!("OFFBOARD_CONNECTION_FLUSH_INTERVAL must be at least 10ms");
        }
        if job_lease < Duration::from_secs(1) {
            anyhow::bail!("OFFBOARD_JOB_LEASE must be at least 1s");
        }
        let flag = |k: &str, default: bool| -> anyhow::Result<bool> {
            match get(k).as_deref().map(str::trim) {
                None => Ok(default),
                Some("true" | "1" | "yes") => Ok(true),
                Some("false" | "0" | "no") => Ok(false),
                Some(other) => anyhow::bail!("{k} must be true or false, not '{other}'"),
            }
        };
        fn positive<T: std::str::FromStr + PartialOrd + Default>(
            k: &str,
            v: Option<String>,
            default: T,
        ) -> anyhow::Result<T> {
            let n = match v {
                Some(v) => v
                    .trim()
                    .parse::<T>()
                    .map_err(|_| anyhow::anyhow!("{k} must be a whole number"))?,
                None => default,
            };
            if n <= T::default() {
                anyhow::bail!("{k} must be at least 1");
            }
            Ok(n)
        }
        let number = |k: &str, default| positive(k, get(k), default);
        let concurrency: usize = match get("OFFBOARD_WEBHOOK_CONCURRENCY") {
            Some(v) => v
                .trim()
                .parse()
                .context("OFFBOARD_WEBHOOK_CONCURRENCY must be a number")?,
            None => 64,
        };
        if concurrency == 0 {
            anyhow::bail!("OFFBOARD_WEBHOOK_CONCURRENCY must be at least 1");
        }
        let timeout = duration("OFFBOARD_WEBHOOK_TIMEOUT", Duration::from_secs(15))?;
        let webhook = WebhookSettings {
            retry_schedule: parse_schedule(
                get("OFFBOARD_WEBHOOK_RETRY_SCHEDULE")
                    .as_deref()
                    .unwrap_or(DEFAULT_RETRY_SCHEDULE),
            )
            .context("OFFBOARD_WEBHOOK_RETRY_SCHEDULE is not valid")?,
            timeout,
            lease: duration("OFFBOARD_WEBHOOK_LEASE", timeout + Duration::from_secs(30))?,
            allow_private: flag("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", false)?,
            concurrency,
            endpoint_concurrency: positive(
                "OFFBOARD_WEBHOOK_ENDPOINT_CONCURRENCY",
                get("OFFBOARD_WEBHOOK_ENDPOINT_CONCURRENCY"),
                2u32,
            )?,
            breaker: crate::domain::breaker::Policy {
                threshold: positive(
                    "OFFBOARD_WEBHOOK_BREAKER_THRESHOLD",
                    get("OFFBOARD_WEBHOOK_BREAKER_THRESHOLD"),
                    5u32,
                )?,
                base_cooldown: duration(
                    "OFFBOARD_WEBHOOK_BREAKER_COOLDOWN",
                    Duration::from_secs(10),
                )?,
                max_cooldown: duration(
                    "OFFBOARD_WEBHOOK_BREAKER_MAX_COOLDOWN",
                    Duration::from_secs(600),
                )?,
            },
            event_retention: duration("OFFBOARD_EVENT_RETENTION", Duration::from_secs(30 * 86400))?,
            disable_after: duration(
                "OFFBOARD_WEBHOOK_DISABLE_AFTER",
                Duration::from_secs(5 * 86400),
            )?,
            poll_interval: duration("OFFBOARD_WEBHOOK_POLL_INTERVAL", Duration::from_millis(500))?,
            shutdown_timeout: duration("OFFBOARD_SHUTDOWN_TIMEOUT", Duration::from_secs(30))?,
            dispatch: flag("OFFBOARD_WEBHOOK_DISPATCH", true)?,
        };
        if webhook.lease <= webhook.timeout {
            anyhow::bail!("OFFBOARD_WEBHOOK_LEASE must be longer than OFFBOARD_WEBHOOK_TIMEOUT");
        }
        if webhook.timeout.is_zero() || webhook.poll_interval.is_zero() {
            anyhow::bail!(
                "OFFBOARD_WEBHOOK_TIMEOUT and OFFBOARD_WEBHOOK_POLL_INTERVAL must be greater than zero"
            );
        }
        if flag("OFFBOARD_TRUST_FORWARDED_HEADERS", false)? {
            anyhow::bail!(
                "OFFBOARD_TRUST_FORWARDED_HEADERS is replaced: set OFFBOARD_TRUSTED_PROXIES to your proxies' addresses (e.g. 10.0.0.0/8), whose forwarded headers are then believed and no one else's, and OFFBOARD_PUBLIC_URL to the address IdPs call (e.g. https://scim.example.com)"
            );
        }
        let admin_jwt_secret = get("OFFBOARD_ADMIN_JWT_SECRET");
        if let Some(secret) = &admin_jwt_secret
            && secret.len() < MIN_SECRET_BYTES
        {
            anyhow::bail!(
                "OFFBOARD_ADMIN_JWT_SECRET is {} bytes; it must be at least {} (e.g. `openssl rand -hex 32`)",
                secret.len(),
                MIN_SECRET_BYTES
            );
        }
        let admin_jwt_max_ttl = duration("OFFBOARD_ADMIN_JWT_MAX_TTL", Duration::from_secs(86400))?;
        if admin_jwt_max_ttl.is_zero() {
            anyhow::bail!("OFFBOARD_ADMIN_JWT_MAX_TTL must be greater than zero");
        }
        Ok(Settings {
            database_url: get("OFFBOARD_DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            listen: get("OFFBOARD_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.into()),
            admin_jwt_secret,
            admin_jwt_public_keys: get("OFFBOARD_ADMIN_JWT_PUBLIC_KEYS"),
            admin_jwt_issuer: get("OFFBOARD_ADMIN_JWT_ISSUER"),
            admin_jwt_audience: get("OFFBOARD_ADMIN_JWT_AUDIENCE"),
            admin_jwt_max_ttl,
            max_body_bytes,
            log_format,
            db_max_connections,
            db_acquire_timeout: {
                let t = duration(
                    "OFFBOARD_DB_ACQUIRE_TIMEOUT",
                    crate::db::DEFAULT_ACQUIRE_TIMEOUT,
                )?;
                if t.is_zero() {
                    anyhow::bail!("OFFBOARD_DB_ACQUIRE_TIMEOUT must be greater than zero");
                }
                t
            },
            deletion_grace,
            purge_interval,
            job_lease,
            connection_quiet_after,
            connection_flush_interval,
            inspector_keep: match get("OFFBOARD_INSPECTOR_KEEP") {
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n <= MAX_INSPECTOR_KEEP => n,
                    _ => anyhow::bail!(
                        "OFFBOARD_INSPECTOR_KEEP must be a number from 0 (off) to {}",
                        MAX_INSPECTOR_KEEP
                    ),
                },
                None => 1000,
            },
            inspector_max_age: duration(
                "OFFBOARD_INSPECTOR_MAX_AGE",
                Duration::from_secs(7 * 24 * 3600),
            )?,
            job_worker: flag("OFFBOARD_JOB_WORKER", true)?,
            webhook,
            tls: match (get("OFFBOARD_TLS_CERT"), get("OFFBOARD_TLS_KEY")) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.trim().into(),
                    key: key.trim().into(),
                }),
                _ => anyhow::bail!(
                    "OFFBOARD_TLS_CERT and OFFBOARD_TLS_KEY go together: set both (HTTPS) or neither (HTTP)"
                ),
            },
            metrics_tls: flag("OFFBOARD_METRICS_TLS", false)?,
            public_url: get("OFFBOARD_PUBLIC_URL")
                .map(|v| PublicUrl::parse(&v))
                .transpose()
                .context("OFFBOARD_PUBLIC_URL is not valid")?,
            trusted_proxies: crate::forwarded::TrustedProxies::parse(
                get("OFFBOARD_TRUSTED_PROXIES").as_deref().unwrap_or(""),
            )
            .map_err(|e| anyhow::anyhow!("OFFBOARD_TRUSTED_PROXIES: {e}"))?,
            limits: Limits {
                request_timeout: {
                    let t = duration("OFFBOARD_REQUEST_TIMEOUT", Duration::from_secs(10))?;
                    if t.is_zero() {
                        anyhow::bail!("OFFBOARD_REQUEST_TIMEOUT must be greater than zero");
                    }
                    t
                },
                in_flight_per_token: number("OFFBOARD_MAX_IN_FLIGHT_PER_TOKEN", 32)?,
                in_flight_per_address: number("OFFBOARD_MAX_IN_FLIGHT_PER_ADDRESS", 256)?,
                rate_per_second: positive(
                    "OFFBOARD_RATE_LIMIT_PER_SECOND",
                    get("OFFBOARD_RATE_LIMIT_PER_SECOND"),
                    100u32,
                )?,
                rate_burst: positive(
                    "OFFBOARD_RATE_LIMIT_BURST",
                    get("OFFBOARD_RATE_LIMIT_BURST"),
                    200u32,
                )?,
            },
            metrics_listen: match get("OFFBOARD_METRICS_LISTEN").as_deref().map(str::trim) {
                None => Some(DEFAULT_METRICS_LISTEN.to_string()),
                Some("off" | "false" | "none") => None,
                Some(addr) => Some(addr.to_string()),
            },
        })
    }
}

impl Settings {
    /// The base of every link offboard prints: `OFFBOARD_PUBLIC_URL`, else the scheme it
    /// serves and `OFFBOARD_LISTEN`.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().to_string(),
            None => format!(
                "{}://{}",
                if self.tls.is_some() { "https" } else { "http" },
                self.listen
            ),
        }
    }
}

/// Parses `30d`, `5m`, `1h30m`, `0s`.
pub fn parse_duration(raw: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(raw.trim())
        .with_context(|| format!("'{raw}' is not a duration (e.g. 30s, 5m, 2h, 30d)"))
}

/// Parses `5s,5m,30m,2h`.
pub fn parse_schedule(raw: &str) -> anyhow::Result<Vec<Duration>> {
    let schedule: anyhow::Result<Vec<Duration>> = raw.split(',').map(parse_duration).collect();
    let schedule = schedule?;
    if schedule.is_empty() {
        anyhow::bail!("the retry schedule needs at least one delay");
    }
    Ok(schedule)
}

pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_parses_to_svix_delays() {
        let s = parse_schedule(DEFAULT_RETRY_SCHEDULE).unwrap();
        assert_eq!(
            s,
            [5, 300, 1800, 7200, 18000, 36000, 36000]
                .map(Duration::from_secs)
                .to_vec()
        );
        assert!(parse_schedule("").is_err());
        assert!(parse_schedule("5s,soon").is_err());
    }

    #[test]
    fn defaults_need_no_environment() {
        let s = Settings::from_lookup(|_| None).expect("defaults");
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.listen, DEFAULT_LISTEN);
        assert!(s.admin_jwt_secret.is_none());
    }

    #[test]
    fn the_inspector_keeps_a_bounded_number_of_requests() {
        let keep = |v: &str| {
            let v = v.to_string();
            Settings::from_lookup(move |k| (k == "OFFBOARD_INSPECTOR_KEEP").then(|| v.clone()))
                .map(|s| s.inspector_keep)
        };
        assert_eq!(
            Settings::from_lookup(|_| None).unwrap().inspector_keep,
            1000
        );
        assert_eq!(keep("0").unwrap(), 0);
        assert_eq!(keep("1000000").unwrap(), 1_000_000);
        assert!(keep("1000001").is_err());
        assert!(keep("18446744073709551615").is_err());
        assert!(keep("-1").is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let s = Settings::from_lookup(|k| match k {
            "OFFBOARD_ADMIN_JWT_SECRET" => Some("topsecret-topsecret-topsecret-topsecret".into()),
            "OFFBOARD_DATABASE_URL" => Some("postgres://u:pw@localhost/db".into()),
            _ => None,
        })
        .expect("settings");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("topsecret") && !dbg.contains("pw@"), "{dbg}");
    }

    #[test]
    fn the_all_or_nothing_forwarded_flag_is_refused_with_what_to_set_instead() {
        let with = |k: &'static str, v: &'static str| {
            Settings::from_lookup(move |name| (name == k).then(|| v.to_string()))
        };
        let err = with("OFFBOARD_TRUST_FORWARDED_HEADERS", "true").expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("OFFBOARD_TRUSTED_PROXIES") && text.contains("OFFBOARD_PUBLIC_URL"),
            "{text}"
        );
        assert!(with("OFFBOARD_TRUST_FORWARDED_HEADERS", "false").is_ok());
    }

    #[test]
    fn tls_public_url_and_proxies_are_checked_at_start() {
        let with = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Settings::from_lookup(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        };
        assert!(with(&[("OFFBOARD_TLS_CERT", "/etc/cert.pem")]).is_err());
        let s = with(&[
            ("OFFBOARD_TLS_CERT", "/etc/cert.pem"),
            ("OFFBOARD_TLS_KEY", "/etc/key.pem"),
        ])
        .unwrap();
        assert_eq!(s.public_base(), format!("https://{DEFAULT_LISTEN}"));
        let s = with(&[("OFFBOARD_PUBLIC_URL", "https://scim.example.com/")]).unwrap();
        assert_eq!(s.public_base(), "https://scim.example.com");
        assert_eq!(
            with(&[("OFFBOARD_PUBLIC_URL", "https://example.com/offboard/")])
                .unwrap()
                .public_base(),
            "https://example.com/offboard"
        );
        for bad in [
            "scim.example.com",
            "ftp://scim.example.com",
            "https://scim.example.com/?a=1",
            "https://user:pw@scim.example.com",
        ] {
            assert!(with(&[("OFFBOARD_PUBLIC_URL", bad)]).is_err(), "{bad}");
        }
        assert!(with(&[("OFFBOARD_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1")]).is_ok());
        let err = with(&[("OFFBOARD_TRUSTED_PROXIES", "proxy.internal")]).expect_err("refused");
        assert!(err.to_string().contains("proxy.internal"), "{err}");
    }

    #[test]
    fn a_short_admin_secret_refuses_to_start() {
        let err =
            Settings::from_lookup(|k| (k == "OFFBOARD_ADMIN_JWT_SECRET").then(|| "x".repeat(31)))
                .expect_err("refused");
        assert!(err.to_string().contains("at least 32"), "{err}");
        assert!(
            Settings::from_lookup(|k| (k == "OFFBOARD_ADMIN_JWT_SECRET").then(|| "x".repeat(32)))
                .is_ok()
        );
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(
            parse_duration("30d").expect("d"),
            Duration::from_secs(30 * 86400)
        );
        assert_eq!(parse_duration("0s").expect("s"), Duration::ZERO);
        assert!(parse_duration("soon").is_err());
    }
}
