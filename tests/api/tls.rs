//! HTTPS in `serve` itself: requests over TLS with a certificate authority made in the
//! test, a certificate renewed while clients keep their connections, a pair that does
//! not belong together refused at start and kept out on reload.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::process::{Child, Command};

use crate::helpers::{
    ADMIN_SECRET, Backend, TestApp, database_url, expect_json, fixture, spawn_app_with,
};

/// A certificate authority of the test's own, and the leaf certificates it signs.
pub(crate) struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl Ca {
    pub(crate) fn new() -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "offboard test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A leaf for `localhost` and 127.0.0.1 with this serial, valid until `not_after`
    /// (year, month, day): its chain (leaf, then the CA) and its key, as PEM.
    pub(crate) fn leaf(&self, serial: u64, not_after: (i32, u8, u8)) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (format!("{}{}", cert.pem(), self.pem), key.serialize_pem())
    }

    /// A client that trusts this authority alone and reports the certificate it saw.
    pub(crate) fn client(&self) -> reqwest::Client {
        offboard::install_crypto_provider();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.pem.as_bytes()).unwrap()])
            .tls_info(true)
            .build()
            .unwrap()
    }
}

/// The serial of the certificate a response came over, as the server logs it.
fn serial_of(res: &reqwest::Response) -> String {
    let info = res
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .expect("an HTTPS response");
    let der = info.peer_certificate().expect("a server certificate");
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    cert.tbs_certificate.raw_serial_as_string()
}

/// The serial `Ca::leaf` gives `n`, written as the server and `serial_of` write it.
fn serial(n: u64) -> String {
    let (pem, _) = Ca::new().leaf(n, (2099, 1, 1));
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
        .map(|c: rustls::pki_types::CertificateDer<'static>| c.to_vec())
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.tbs_certificate.raw_serial_as_string()
}

/// Writes the pair where `serve` reads it, each file replaced whole (as certbot and
/// cert-manager do).
pub(crate) fn write_pair(dir: &Path, (cert, key): &(String, String)) -> (PathBuf, PathBuf) {
    let put = |name: &str, text: &str| {
        let path = dir.join(name);
        let staging = dir.join(format!(".{name}.new"));
        std::fs::write(&staging, text).unwrap();
        std::fs::rename(&staging, &path).unwrap();
        path
    };
    (put("cert.pem", cert), put("key.pem", key))
}

async fn https_request_with_a_test_ca(backend: Backend) {
    let ca = Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), &ca.leaf(7, (2099, 1, 1)));
    let mut app: TestApp = spawn_app_with(
        backend,
        &[
            ("OFFBOARD_TLS_CERT", cert.to_str().unwrap()),
            ("OFFBOARD_TLS_KEY", key.to_str().unwrap()),
        ],
    )
    .await;
    // Plain HTTP on the HTTPS port is no request at all.
    assert!(
        app.client
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .is_err()
    );
    app.address = app.address.replacen("http://", "https://", 1);
    app.client = ca.client();
    let org = app.create_org("Acme").await;
    let res = app
        .scim_send(
            Method::POST,
            &org,
            "/Users",
            Some(&fixture("okta/create_user.json")),
        )
        .await;
    assert_eq!(serial_of(&res), serial(7));
    let user = expect_json(res, 201).await;
    let location = user["meta"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("{}/scim/v2/Users/mem_", app.address)),
        "meta.location names the HTTPS address: {location}"
    );
    let id = user["id"].as_str().unwrap();
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/deactivate_user.json"),
        )
        .await;
    assert_eq!(expect_json(res, 200).await["active"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_request_over_https_verifies_against_a_test_ca_sqlite() {
    https_request_with_a_test_ca(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn a_scim_request_over_https_verifies_against_a_test_ca_postgres() {
    https_request_with_a_test_ca(Backend::Postgres).await;
}

/// `offboard serve` with TLS, as a process (so it can be sent SIGHUP).
struct TlsServe {
    child: Child,
    base: String,
    log: PathBuf,
}

fn serve_command(db_url: &str, cert: &Path, key: &Path, port: u16, log: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_offboard"));
    cmd.arg("serve")
        .env("OFFBOARD_DATABASE_URL", db_url)
        .env("OFFBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("OFFBOARD_METRICS_LISTEN", "off")
        .env("OFFBOARD_ADMIN_JWT_SECRET", ADMIN_SECRET)
        .env("OFFBOARD_TLS_CERT", cert)
        .env("OFFBOARD_TLS_KEY", key)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .kill_on_drop(true);
    cmd
}

impl TlsServe {
    async fn start(db_url: &str, cert: &Path, key: &Path, client: &reqwest::Client) -> TlsServe {
        let port = crate::processes::free_port();
        let log = cert.with_file_name("serve.log");
        let child = serve_command(db_url, cert, key, port, &log)
            .spawn()
            .unwrap();
        let base = format!("https://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "serve did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        TlsServe { child, base, log }
    }

    fn hangup(&self) {
        let pid = self.child.id().unwrap() as i32;
        // SAFETY: a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The serial a new connection is handed.
    async fn serial_for_a_new_connection(&self, ca: &Ca) -> String {
        serial_of(
            &ca.client()
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .unwrap(),
        )
    }

    /// Waits until new connections get `serial`.
    async fn wait_for_serial(&self, ca: &Ca, serial: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.serial_for_a_new_connection(ca).await == serial {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "new connections never got {serial}: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn a_renewed_certificate_is_served_without_a_restart(backend: Backend) {
    let ca = Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _db_dir) = database_url(backend).await;
    let (cert, key) = write_pair(dir.path(), &ca.leaf(1, (2099, 1, 1)));
    let kept = ca.client();
    let serve = TlsServe::start(&db_url, &cert, &key, &kept).await;
    // A client opens a connection (kept alive by its pool) under certificate 1.
    let res = kept
        .get(format!("{}/readyz", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(serial_of(&res), serial(1));

    // Renewed in place, then SIGHUP: new connections get certificate 2 …
    write_pair(dir.path(), &ca.leaf(2, (2099, 1, 1)));
    serve.hangup();
    serve.wait_for_serial(&ca, &serial(2)).await;
    // … while the open connection goes on, still under certificate 1: it was not cut.
    let res = kept
        .get(format!("{}/readyz", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        serial_of(&res),
        serial(1),
        "the open connection was replaced"
    );

    // A key that is not the certificate's is kept out; certificate 2 keeps serving.
    let (cert3, _) = ca.leaf(3, (2099, 1, 1));
    let (_, other_key) = ca.leaf(4, (2099, 1, 1));
    write_pair(dir.path(), &(cert3, other_key));
    serve.hangup();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !serve.log().contains("is not the key of the certificate") {
        assert!(
            Instant::now() < deadline,
            "no reload error logged: {}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(serve.log().contains("the previous one keeps serving"));
    assert_eq!(serve.serial_for_a_new_connection(&ca).await, serial(2));
    // So is an expired certificate.
    write_pair(dir.path(), &ca.leaf(5, (2021, 1, 1)));
    serve.hangup();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !serve.log().contains("the certificate expired") {
        assert!(
            Instant::now() < deadline,
            "no expiry logged: {}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(serve.serial_for_a_new_connection(&ca).await, serial(2));

    // Without a signal, a change of the files is seen within a few seconds.
    write_pair(dir.path(), &ca.leaf(6, (2099, 1, 1)));
    serve.wait_for_serial(&ca, &serial(6)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart_sqlite() {
    a_renewed_certificate_is_served_without_a_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn a_renewed_certificate_is_served_without_a_restart_postgres() {
    a_renewed_certificate_is_served_without_a_restart(Backend::Postgres).await;
}

/// A pair that does not load is a clear refusal at start, naming the file.
async fn a_bad_pair_refuses_to_start(backend: Backend) {
    let ca = Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _db_dir) = database_url(backend).await;
    let (cert, _) = ca.leaf(1, (2099, 1, 1));
    let (_, other_key) = ca.leaf(2, (2099, 1, 1));
    let refused = async |pair: (String, String)| -> String {
        let (cert, key) = write_pair(dir.path(), &pair);
        let log = dir.path().join("refused.log");
        let mut child = serve_command(&db_url, &cert, &key, crate::processes::free_port(), &log)
            .spawn()
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("serve exits")
            .unwrap();
        assert_eq!(status.code(), Some(1));
        std::fs::read_to_string(&log).unwrap()
    };
    let key_path = dir.path().join("key.pem");
    let cert_path = dir.path().join("cert.pem");
    let err = refused((cert.clone(), other_key)).await;
    assert!(
        err.contains(&format!(
            "{} is not the key of the certificate in {}",
            key_path.display(),
            cert_path.display()
        )),
        "{err}"
    );
    let err = refused(ca.leaf(3, (2021, 1, 1))).await;
    assert!(
        err.contains(&format!("{}: the certificate expired", cert_path.display())),
        "{err}"
    );
    let err = refused(("not a certificate".into(), ca.leaf(4, (2099, 1, 1)).1)).await;
    assert!(
        err.contains(&format!("{}: no PEM certificate", cert_path.display())),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_that_does_not_load_refuses_to_start_naming_the_file_sqlite() {
    a_bad_pair_refuses_to_start(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn a_pair_that_does_not_load_refuses_to_start_naming_the_file_postgres() {
    a_bad_pair_refuses_to_start(Backend::Postgres).await;
}
