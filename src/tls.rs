//! HTTPS in `serve`: the certificate chain and key from `OFFBOARD_TLS_CERT` and
//! `OFFBOARD_TLS_KEY` (PEM), served with rustls (TLS 1.2 and 1.3 only), and renewed while
//! the service runs.
//!
//! Tools like certbot and cert-manager replace the files in place. New connections are
//! handed the pair in effect when they start (`Resolver` answers each handshake), so a
//! reload never touches a connection already open. The pair is reloaded on SIGHUP and
//! whenever the files' contents change (read every few seconds: that also sees a symlink
//! swapped under an unchanged name). A pair that does not load (unreadable, not PEM, key
//! and certificate mismatched, expired) leaves the previous one serving and is logged; at
//! start it refuses, naming the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::configuration::TlsFiles;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no PEM certificate in it", .0.display())]
    NoCertificate(PathBuf),
    #[error("{}: no PEM private key in it ({why})", .path.display())]
    NoKey { path: PathBuf, why: String },
    #[error("{}: not a certificate this server can use: {why}", .path.display())]
    BadCertificate { path: PathBuf, why: String },
    #[error("{} is not the key of the certificate in {}", .key.display(), .cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("{}: the certificate expired at {}", .path.display(), .not_after.to_rfc3339())]
    Expired {
        path: PathBuf,
        not_after: DateTime<Utc>,
    },
}

/// A certificate chain and its key, read and checked against each other.
pub struct Pair {
    pub key: Arc<CertifiedKey>,
    /// The leaf certificate's end of validity.
    pub not_after: DateTime<Utc>,
    /// The leaf certificate's serial number, in hex (what a client sees).
    pub serial: String,
    /// What was read, to tell a changed file from an unchanged one.
    fingerprint: [u8; 32],
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn fingerprint(cert: &[u8], key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((cert.len() as u64).to_be_bytes());
    h.update(cert);
    h.update(key);
    h.finalize().into()
}

/// Reads and checks the pair, whatever its dates (the doctor reports an expired one).
pub fn read(files: &TlsFiles) -> Result<Pair, TlsError> {
    let cert_pem = read_file(&files.cert)?;
    let key_pem = read_file(&files.key)?;
    parse(files, &cert_pem, &key_pem)
}

fn parse(files: &TlsFiles, cert_pem: &[u8], key_pem: &[u8]) -> Result<Pair, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::BadCertificate {
            path: files.cert.clone(),
            why: e.to_string(),
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    };
    let (_, parsed) =
        x509_parser::parse_x509_certificate(leaf).map_err(|e| TlsError::BadCertificate {
            path: files.cert.clone(),
            why: e.to_string(),
        })?;
    let not_after = DateTime::<Utc>::from_timestamp(parsed.validity().not_after.timestamp(), 0)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let serial = parsed.tbs_certificate.raw_serial_as_string();
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::NoKey {
        path: files.key.clone(),
        why: e.to_string(),
    })?;
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::NoKey {
            path: files.key.clone(),
            why: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    // The key's public half must be the certificate's. A key that cannot say which it
    // is (none of ring's) is accepted, as rustls' own `from_der` does.
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err(TlsError::Mismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            });
        }
    }
    Ok(Pair {
        key: Arc::new(certified),
        not_after,
        serial,
        fingerprint: fingerprint(cert_pem, key_pem),
    })
}

/// Reads the pair for serving: an expired certificate is refused too.
pub fn load(files: &TlsFiles, now: DateTime<Utc>) -> Result<Pair, TlsError> {
    unexpired(files, read(files)?, now)
}

fn unexpired(files: &TlsFiles, pair: Pair, now: DateTime<Utc>) -> Result<Pair, TlsError> {
    if pair.not_after <= now {
        return Err(TlsError::Expired {
            path: files.cert.clone(),
            not_after: pair.not_after,
        });
    }
    Ok(pair)
}

/// How often the certificate files are read for a change (SIGHUP reloads at once).
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Hands every new TLS connection the pair in effect; reloads replace it.
#[derive(Debug)]
pub struct Resolver {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    /// The fingerprint of what is serving, and of the last contents that failed to load
    /// (so a bad file is logged once, not at every look).
    seen: Mutex<([u8; 32], Option<[u8; 32]>)>,
}

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The files are what is serving already.
    Unchanged,
    /// A new pair serves new connections (its serial).
    Replaced(String),
    /// These contents failed before; the previous pair still serves.
    StillBad,
}

impl Resolver {
    /// Loads the pair at start: an error here refuses to start.
    pub fn start(files: TlsFiles) -> Result<Arc<Resolver>, TlsError> {
        let pair = load(&files, Utc::now())?;
        tracing::info!(
            cert = %files.cert.display(),
            serial = %pair.serial,
            not_after = %pair.not_after.to_rfc3339(),
            "TLS certificate loaded"
        );
        Ok(Arc::new(Resolver {
            files,
            current: RwLock::new(pair.key),
            seen: Mutex::new((pair.fingerprint, None)),
        }))
    }

    /// Reloads the pair when its files changed (or always, with `force`); a pair that
    /// does not load leaves the current one serving.
    pub fn reload(&self, force: bool) -> Result<Reload, TlsError> {
        let cert_pem = read_file(&self.files.cert)?;
        let key_pem = read_file(&self.files.key)?;
        let now = fingerprint(&cert_pem, &key_pem);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if !force && now == seen.0 {
            return Ok(Reload::Unchanged);
        }
        if !force && Some(now) == seen.1 {
            return Ok(Reload::StillBad);
        }
        let loaded = parse(&self.files, &cert_pem, &key_pem)
            .and_then(|pair| unexpired(&self.files, pair, Utc::now()));
        match loaded {
            Ok(pair) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = pair.key;
                *seen = (pair.fingerprint, None);
                Ok(Reload::Replaced(pair.serial))
            }
            Err(e) => {
                seen.1 = Some(now);
                Err(e)
            }
        }
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// The rustls configuration `serve` listens with: TLS 1.3 and 1.2, no client
/// certificates, HTTP/1.1.
pub fn server_config(resolver: Arc<Resolver>) -> rustls::ServerConfig {
    let mut config = rustls::ServerConfig::builder_with_protocol_versions(&[
        &rustls::version::TLS13,
        &rustls::version::TLS12,
    ])
    .with_no_client_auth()
    .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// Reloads on SIGHUP and when the files change (looked at every `every`), until `stop`.
pub async fn reload_forever(
    resolver: Arc<Resolver>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "SIGHUP cannot be watched; certificate files are still watched");
            None
        }
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let force = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
            _ = stop.changed() => return,
        };
        match resolver.reload(force) {
            Ok(Reload::Replaced(serial)) => {
                tracing::info!(%serial, "TLS certificate reloaded: new connections get it")
            }
            Ok(Reload::Unchanged) | Ok(Reload::StillBad) => {}
            Err(e) => tracing::error!(
                error = %e,
                "the TLS certificate was not reloaded; the previous one keeps serving"
            ),
        }
    }
}
