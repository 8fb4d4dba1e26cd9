//! Database connections and write transactions.
//!
//! SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
//! `BEGIN IMMEDIATE`, so a read-then-write never has to upgrade its lock (the upgrade is
//! what deadlocks or fails with SQLITE_BUSY). On PostgreSQL, writers lock the rows they
//! change with `SELECT … FOR UPDATE`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, SqliteTransactionMode,
    Statement, TransactionOptions, TransactionTrait,
};

/// How long a request waits for a database connection before it is told the database
/// is unavailable (`OFFBOARD_DB_ACQUIRE_TIMEOUT`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, max_connections, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// Connects with a bounded wait for a connection: when the database is unreachable a
/// request fails within `acquire_timeout` instead of hanging.
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(acquire_timeout)
        .connect_timeout(acquire_timeout)
        // Every statement at debug (`RUST_LOG=sqlx::query=debug` shows each with its
        // time, never its bound values); one slower than a second at warn.
        .sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, Duration::from_secs(1))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                // NORMAL is durable in WAL mode against process crashes; only an OS crash
                // can lose the last transactions.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                // Deleted and overwritten content is zeroed in the file, so erased
                // personal data does not linger in free space (see `scrub`).
                .pragma("secure_delete", "ON")
                // `serve` checkpoints the WAL in the background (`checkpoint_forever`);
                // a commit checkpoints itself only past this many pages, a backstop.
                .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES.to_string())
        });
    Database::connect(opts).await
}

/// Whether a command may make the database it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// `serve` and `migrate`: a SQLite file or a PostgreSQL database that does not exist
    /// is made (PostgreSQL's when the role may), then migrated.
    MayCreate,
    /// Every other command works on the database `serve` made: one that does not exist
    /// is an error that says where offboard looked, never a new, empty database (the
    /// default SQLite path is relative to the current directory, so a command run from
    /// another folder would otherwise work on a database of its own).
    MustExist,
}

/// Why a database could not be opened, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "there is no offboard database at {}: run this command where `offboard serve` runs, or set OFFBOARD_DATABASE_URL to the database it uses (`offboard migrate` makes a new one here)",
        .0.display()
    )]
    NoSqliteFile(PathBuf),
    #[error(
        "the folder {} for the database does not exist: create it (mkdir -p {}) or set OFFBOARD_DATABASE_URL to another path",
        .0.display(), .0.display()
    )]
    NoFolder(PathBuf),
    #[error(
        "the PostgreSQL database \"{0}\" does not exist: `offboard migrate` (or `offboard serve`) creates it"
    )]
    NoPostgresDatabase(String),
    #[error(
        "the PostgreSQL database \"{name}\" does not exist and this role could not create it ({why}): have it created (createdb --owner=<role> {name}, or CREATE DATABASE \"{name}\" OWNER <role>) and start again"
    )]
    CannotCreate { name: String, why: String },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The database file a SQLite URL names, as the URL says it (relative to the current
/// directory when it is relative); `None` for PostgreSQL or an in-memory database.
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    if !database_url.starts_with("sqlite:") {
        return None;
    }
    if database_url.contains(":memory:") || database_url.contains("mode=memory") {
        return None;
    }
    let options = SqliteConnectOptions::from_str(database_url).ok()?;
    let file = options.get_filename();
    (!file.as_os_str().is_empty()).then(|| file.to_path_buf())
}

/// Where a database lives, for people: a SQLite file's absolute path, else the URL
/// without its password.
pub fn describe(database_url: &str) -> String {
    match sqlite_file(database_url) {
        Some(file) => std::path::absolute(&file)
            .unwrap_or(file)
            .display()
            .to_string(),
        None => redact_url(database_url),
    }
}

/// The URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// What can be said before connecting: the SQLite file's folder exists, and so does the
/// file when it must. Runs before a command claims the database (which makes a lock file
/// beside it), so a refused command leaves nothing behind.
pub fn preflight(database_url: &str, opening: Opening) -> Result<(), OpenError> {
    let Some(file) = sqlite_file(database_url) else {
        return Ok(());
    };
    let file = std::path::absolute(&file).unwrap_or(file);
    if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(OpenError::NoFolder(folder.to_path_buf()));
    }
    if opening == Opening::MustExist && !file.exists() {
        return Err(OpenError::NoSqliteFile(file));
    }
    Ok(())
}

/// Connects as `connect_with` does, after `preflight`; with `MayCreate` a PostgreSQL
/// database that does not exist is created first.
pub async fn open(
    database_url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
    opening: Opening,
) -> Result<DatabaseConnection, OpenError> {
    preflight(database_url, opening)?;
    match connect_with(database_url, max_connections, acquire_timeout).await {
        Err(e) if sqlstate(&e).as_deref() == Some("3D000") => {
            let name = postgres_database(database_url).unwrap_or_default();
            if opening == Opening::MustExist {
                return Err(OpenError::NoPostgresDatabase(name));
            }
            create_postgres_database(database_url, &name, acquire_timeout).await?;
            tracing::info!(database = %name, "created the PostgreSQL database");
            Ok(connect_with(database_url, max_connections, acquire_timeout).await?)
        }
        r => Ok(r?),
    }
}

/// The database a PostgreSQL URL names (the user's name when it names none, as
/// PostgreSQL does).
fn postgres_database(database_url: &str) -> Option<String> {
    let opts = sea_orm::sqlx::postgres::PgConnectOptions::from_str(database_url).ok()?;
    Some(
        opts.get_database()
            .unwrap_or(opts.get_username())
            .to_string(),
    )
}

/// `CREATE DATABASE` through the server's maintenance database (`postgres`, else
/// `template1`). Another process creating it meanwhile is success.
async fn create_postgres_database(
    database_url: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), OpenError> {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
    use sea_orm::sqlx::{Connection, Executor};
    let cannot = |why: String| OpenError::CannotCreate {
        name: name.to_string(),
        why,
    };
    let opts = PgConnectOptions::from_str(database_url).map_err(|e| cannot(e.to_string()))?;
    let mut last = String::new();
    for maintenance in ["postgres", "template1"] {
        let server = opts.clone().database(maintenance);
        let mut conn =
            match tokio::time::timeout(timeout, PgConnection::connect_with(&server)).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    last = e.to_string();
                    continue;
                }
                Err(_) => {
                    last = "timed out connecting to the server".into();
                    continue;
                }
            };
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        // The name is quoted as an identifier above; it cannot end the statement.
        let created = conn.execute(sea_orm::sqlx::AssertSqlSafe(sql)).await;
        let _ = conn.close().await;
        return match created {
            Ok(_) => Ok(()),
            Err(sea_orm::sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {
                Ok(())
            }
            Err(e) => Err(cannot(e.to_string())),
        };
    }
    Err(cannot(last))
}

/// The SQLSTATE (PostgreSQL) or result code (SQLite) of a database's own error.
fn sqlstate(err: &DbErr) -> Option<String> {
    Some(sqlx_error(err)?.as_database_error()?.code()?.into_owned())
}

fn sqlx_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

/// Why the database cannot serve a request right now, when that is the failure: it is
/// unreachable, closed the connection, or cannot write (full disk, read-only file). The
/// request is answered 503 with `Retry-After`; anything else is a bug (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    Unreachable,
    Full,
    ReadOnly,
}

impl Unavailable {
    pub fn as_str(self) -> &'static str {
        match self {
            Unavailable::Unreachable => "the database is unreachable",
            Unavailable::Full => "the database's disk is full",
            Unavailable::ReadOnly => "the database is read-only",
        }
    }
}

/// Classifies a database error: `Some` when the database is unavailable (as opposed to a
/// query that is wrong).
pub fn unavailable(err: &DbErr) -> Option<Unavailable> {
    let sqlx = match (err, sqlx_error(err)) {
        (_, Some(e)) => e,
        (DbErr::ConnectionAcquire(_) | DbErr::Conn(_), None) => {
            return Some(Unavailable::Unreachable);
        }
        _ => return None,
    };
    use sea_orm::sqlx::Error as E;
    match sqlx {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
            Some(Unavailable::Unreachable)
        }
        E::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            if db
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                // SQLite result codes; extended codes keep the primary one in the low byte.
                return match code.parse::<i32>().map(|n| n & 0xff) {
                    Ok(13) => Some(Unavailable::Full),
                    Ok(8) => Some(Unavailable::ReadOnly),
                    // SQLITE_IOERR, SQLITE_CANTOPEN
                    Ok(10 | 14) => Some(Unavailable::Unreachable),
                    _ => None,
                };
            }
            // PostgreSQL: 53100 disk full, 25006 read-only transaction, class 08
            // connection exceptions, 57P01-57P03 shutdown / cannot connect now.
            match code {
                "53100" => Some(Unavailable::Full),
                "25006" => Some(Unavailable::ReadOnly),
                c if c.starts_with("08") || c.starts_with("57P") => Some(Unavailable::Unreachable),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A background task's view of database outages: it logs when one starts and when it
/// ends (not at every failed attempt) and says how long to wait before the next try,
/// doubling up to five seconds (so work resumes soon after the database is back).
#[derive(Debug)]
pub struct Outage {
    task: &'static str,
    since: Option<std::time::Instant>,
    backoff: Duration,
}

impl Outage {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(5);

    pub fn new(task: &'static str) -> Self {
        Outage {
            task,
            since: None,
            backoff: Self::FIRST,
        }
    }

    /// Records a failure; returns how long to wait before trying again.
    pub fn failed(&mut self, err: &DbErr) -> Duration {
        match unavailable(err) {
            Some(why) if self.since.is_none() => {
                tracing::warn!(task = self.task, error = %err, "{}: backing off until it is back", why.as_str());
            }
            Some(_) => {
                tracing::debug!(task = self.task, error = %err, "database still unavailable")
            }
            // Not an outage: a fault worth seeing every time.
            None => tracing::error!(task = self.task, error = %err, "database error"),
        }
        self.since.get_or_insert_with(std::time::Instant::now);
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(Self::MAX);
        wait
    }

    /// Records a success, logging the end of an outage.
    pub fn succeeded(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                task = self.task,
                after_secs = since.elapsed().as_secs(),
                "database available again"
            );
        }
        self.backoff = Self::FIRST;
    }

    pub fn ongoing(&self) -> bool {
        self.since.is_some()
    }
}

/// Applies pending migrations, one process at a time: several `serve` processes starting
/// together on one database (or a command run while `serve` starts) would otherwise both
/// see a migration pending and both apply it, and the second fails half-way. PostgreSQL:
/// an advisory lock, held by one connection of the pool for the run (released if the
/// process dies). SQLite: an exclusive lock on `<database>.migrate.lock`, taken only
/// when something is pending; the pending list is read again under the lock.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    refuse_newer(db).await?;
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let mut conn = db
                .get_postgres_connection_pool()
                .acquire()
                .await
                .map_err(sqlx_conn_err)?;
            sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await
                .map_err(sqlx_conn_err)?;
            let result = Migrator::up(db, None).await;
            let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await;
            result
        }
        DatabaseBackend::Sqlite => {
            if Migrator::get_pending_migrations(db).await?.is_empty() {
                return Ok(());
            }
            let _lock = match sqlite_main_file(db).await? {
                Some(file) => Some(lock_exclusively(&file).await?),
                None => None,
            };
            Migrator::up(db, None).await
        }
        _ => Migrator::up(db, None).await,
    }
}

/// A database a newer release has migrated is refused, in words (this release would not
/// know its schema); a database never migrated has no migrations table, and passes.
async fn refuse_newer(db: &DatabaseConnection) -> Result<(), DbErr> {
    if let Ok(MigrationState {
        unknown: Some(version),
        ..
    }) = migration_state(db).await
    {
        return Err(DbErr::Custom(format!(
            "this database was migrated by a newer offboard (migration {version}): run that release, or restore the backup taken before the upgrade"
        )));
    }
    Ok(())
}

/// The advisory lock key migrations take on PostgreSQL ("offboard" in ASCII).
const MIGRATION_LOCK: i64 = 0x6f66_6662_6f61_7264;

fn sqlx_conn_err(e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}

/// The file of a SQLite connection's main database (`None` in memory).
async fn sqlite_main_file(db: &DatabaseConnection) -> Result<Option<PathBuf>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA database_list",
        ))
        .await?;
    for row in rows {
        let name: String = row.try_get_by_index(1)?;
        let file: String = row.try_get_by_index(2)?;
        if name == "main" && !file.is_empty() {
            return Ok(Some(PathBuf::from(file)));
        }
    }
    Ok(None)
}

/// Waits for an exclusive lock on `<file>.migrate.lock`; released when dropped.
async fn lock_exclusively(file: &std::path::Path) -> Result<std::fs::File, DbErr> {
    let mut name = file.as_os_str().to_owned();
    name.push(".migrate.lock");
    let path = PathBuf::from(name);
    tokio::task::spawn_blocking(move || {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        lock.lock()?;
        Ok::<_, std::io::Error>(lock)
    })
    .await
    .map_err(|e| DbErr::Custom(format!("migration lock: {e}")))?
    .map_err(|e| DbErr::Custom(format!("migration lock: {e}")))
}

/// A database's migrations against this release's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Migrations this release has.
    pub known: usize,
    /// Migrations the database has applied.
    pub applied: usize,
    /// One the database has applied that this release does not know (a newer release's).
    pub unknown: Option<String>,
}

impl MigrationState {
    pub fn pending(&self) -> usize {
        self.known.saturating_sub(self.applied)
    }
}

/// Reads which migrations the database has applied; an error when it has no migrations
/// table (offboard never started on it).
pub async fn migration_state(db: &impl ConnectionTrait) -> Result<MigrationState, DbErr> {
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await?;
    let mut state = MigrationState {
        known: known.len(),
        applied: rows.len(),
        unknown: None,
    };
    for row in rows {
        let version: String = row.try_get_by_index(0)?;
        if !known.contains(&version) {
            state.unknown = Some(version);
            break;
        }
    }
    Ok(state)
}

/// WAL pages past which a commit checkpoints itself (SQLite's default is 1,000): only
/// when the background checkpoint has stopped keeping up.
const WAL_BACKSTOP_PAGES: u32 = 20_000;

/// How often `serve` checkpoints the SQLite WAL.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies the committed WAL pages into the database file every `every`, on a pooled
/// connection, beside the writer (a `PASSIVE` checkpoint takes no write lock). With
/// SQLite's automatic checkpoint, the commit that took the WAL past 1,000 pages did it,
/// fsync included, while every other request waited for the writer: measured in `bench
/// floor`, that was half of a deprovisioning's commit and the whole of its p99. Nothing
/// to do on PostgreSQL.
pub async fn checkpoint_forever(db: DatabaseConnection, every: Duration) {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A failure (the database unavailable) is the readiness probe's to report; the
        // next tick tries again, and the backstop checkpoints meanwhile.
        if let Err(e) = db
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            tracing::debug!(error = %e, "WAL checkpoint failed; retried at the next tick");
        }
    }
}

/// Makes erased personal data unreachable in the database's files; the purge calls it
/// after each run. SQLite (with `secure_delete`, which zeroes deleted content in the
/// database file): a `TRUNCATE` checkpoint copies the latest pages into the database
/// file and empties the WAL, where older versions of erased rows would otherwise stay.
/// PostgreSQL: `VACUUM` of the tables that hold personal data reclaims the dead row
/// versions erasures left (those made at DELETE time included), so they are no longer
/// readable through the database; bytes on disk go only when the space is reused (or
/// with `VACUUM FULL`), see docs/admin-api.md ("Erased means erased"). Cheap when
/// nothing changed: pages that are all visible are skipped.
pub async fn scrub(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                ))
                .await?;
            // (busy, log frames, checkpointed frames): busy = 1 means a reader kept the
            // checkpoint from finishing; the next purge run tries again.
            let busy: i32 = match row {
                Some(r) => r.try_get_by_index(0).unwrap_or(0),
                None => 0,
            };
            if busy != 0 {
                tracing::warn!(
                    "WAL checkpoint could not finish (readers busy); retried at the next purge"
                );
            }
            Ok(())
        }
        DatabaseBackend::Postgres => {
            db.execute_unprepared("VACUUM users, memberships, events")
                .await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    begin_write_for(db, "").await
}

/// [`begin_write`] for `party` (whom the write is for: an organization's SCIM token, an
/// operator): on SQLite, this process's writers take turns between parties; on
/// PostgreSQL, a party has a few write transactions open at most, so a flooding party
/// waits for itself, not on pooled connections the others need.
pub async fn begin_write_for(db: &DatabaseConnection, party: &str) -> Result<WriteTxn, DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            // Writers queue here, party after party, instead of in SQLite's busy handler,
            // whose sleeps (up to 100 ms each) made the latency tail of concurrent writes;
            // a party with many writes queued does not make another's single one wait
            // behind all of them.
            let asked = std::time::Instant::now();
            let turn = SQLITE_WRITER.acquire(party).await;
            SQLITE_WRITER_TIMES
                .wait
                .observe(asked.elapsed().as_secs_f64());
            let guard = WriterTurn {
                _turn: turn,
                since: std::time::Instant::now(),
            };
            let txn = db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await?;
            Ok(WriteTxn {
                txn,
                _writer: Some(Slot::Shared(guard)),
            })
        }
        _ => {
            // A party's writes a few at a time here (see `fair::PartySlots`); background
            // work (no party) runs side by side as before.
            let slot = if party.is_empty() {
                None
            } else {
                PARTY_WRITERS.acquire(party).await.map(Slot::Party)
            };
            Ok(WriteTxn {
                txn: db.begin().await?,
                _writer: slot,
            })
        }
    }
}

/// What a write transaction holds besides the transaction until it ends.
#[allow(dead_code)] // held for their Drop
enum Slot {
    Shared(WriterTurn),
    Party(tokio::sync::OwnedSemaphorePermit),
}

/// The SQLite writer slot, held since `since`; how long is recorded when it is let go.
struct WriterTurn {
    _turn: crate::fair::Turn,
    since: std::time::Instant,
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        SQLITE_WRITER_TIMES
            .hold
            .observe(self.since.elapsed().as_secs_f64());
    }
}

/// How long write transactions waited for this process's SQLite writer slot and held it
/// (begin to commit or rollback), in seconds: `/metrics` shows them as
/// `offboard_sqlite_writer_wait_seconds` and `offboard_sqlite_writer_hold_seconds`. The
/// mean hold bounds SQLite writes: one process commits at most one write per hold, so at
/// 1.5 ms no more than about 650 a second, however idle its cores. Process-wide, as the
/// slot is; empty on PostgreSQL.
pub struct WriterTimes {
    pub wait: prometheus_client::metrics::histogram::Histogram,
    pub hold: prometheus_client::metrics::histogram::Histogram,
}

pub static SQLITE_WRITER_TIMES: std::sync::LazyLock<WriterTimes> = std::sync::LazyLock::new(|| {
    use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
    // 0.1 ms to ~3 s.
    WriterTimes {
        wait: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
        hold: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
    }
});

static PARTY_WRITERS: std::sync::LazyLock<crate::fair::PartySlots> =
    std::sync::LazyLock::new(Default::default);

/// One SQLite writer at a time per process. (Several processes on one SQLite file still
/// meet in SQLite's own lock; the busy timeout covers them.)
static SQLITE_WRITER: std::sync::LazyLock<std::sync::Arc<crate::fair::FairLock>> =
    std::sync::LazyLock::new(Default::default);

/// A write transaction; on SQLite it also holds this process's writer slot until it
/// commits, rolls back or is dropped.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _writer: Option<Slot>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// Adds `FOR UPDATE` where row locks exist (PostgreSQL); on SQLite the immediate write
/// transaction already excludes other writers, and the clause does not exist.
pub fn for_update<E: sea_orm::EntityTrait>(
    q: sea_orm::Select<E>,
    db: &impl ConnectionTrait,
) -> sea_orm::Select<E> {
    use sea_orm::QuerySelect;
    if supports_row_locks(db.get_database_backend()) {
        q.lock_exclusive()
    } else {
        q
    }
}

/// Whether row locks (`FOR UPDATE`) exist on this backend; on SQLite the immediate
/// transaction already holds the database's write lock.
pub fn supports_row_locks(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Postgres
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_files_name_a_file() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/offboard/offboard.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/offboard/offboard.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://offboard.db?mode=rwc"),
            Some(PathBuf::from("offboard.db"))
        );
        assert_eq!(sqlite_file("postgres://u@localhost/db"), None);
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(
            sqlite_file("sqlite://shared?mode=memory&cache=shared"),
            None
        );
    }

    #[test]
    fn a_postgres_url_names_its_database_or_the_users() {
        assert_eq!(
            postgres_database("postgres://ops@db.internal:5432/offboard").as_deref(),
            Some("offboard")
        );
        assert_eq!(
            postgres_database("postgres://ops@db.internal:5432").as_deref(),
            Some("ops")
        );
    }

    #[test]
    fn a_relative_sqlite_file_is_described_by_its_absolute_path() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            describe("sqlite://offboard.db?mode=rwc"),
            cwd.join("offboard.db").display().to_string()
        );
        assert_eq!(
            describe("postgres://u:pw@localhost/db"),
            "postgres://***@localhost/db"
        );
    }
}
