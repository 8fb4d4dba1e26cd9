//! Tells the tests whether PostgreSQL is configured, so the PostgreSQL variant of every
//! storage test is reported as ignored (not as passed) when it does not run.

fn main() {
    println!("cargo::rerun-if-env-changed=OFFBOARD_TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(offboard_postgres_tests)");
    if std::env::var_os("OFFBOARD_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=offboard_postgres_tests");
    }
}
