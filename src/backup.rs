//! Online backups of the embedded SQLite database, restores from them, and the lock that
//! keeps a restore from replacing a database a running `offboard serve` uses.
//!
//! A backup is `VACUUM INTO`: SQLite writes a compacted copy of one read transaction's
//! snapshot, so the copy is consistent (every transaction committed before it began,
//! none after) while `serve` keeps reading and writing; copying the file under WAL could
//! tear it. PostgreSQL has its own tools (`pg_dump`), which this does not replace.
//!
//! `serve` holds a shared lock on `<database>.lock` for as long as it runs; `restore`
//! takes it exclusively, so it refuses while any `serve` runs on that file, and a `serve`
//! started during a restore refuses to start.

use sea_orm::{ConnectionTrait, Database, DbBackend, DbErr, Statement};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::db::sqlite_file;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "offboard backup and restore work on the embedded SQLite database; for PostgreSQL use its own tools (pg_dump --format=custom, pg_restore)"
    )]
    NotSqlite,
    #[error("{0} already exists: a backup never overwrites a file")]
    Exists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error(
        "the database {0} is in use by a running offboard (serve or migrate): stop it before restoring"
    )]
    InUse(PathBuf),
    #[error("a restore of {0} is running: start offboard once it has finished")]
    Restoring(PathBuf),
    #[error("{path} is not a sound offboard database: {why}")]
    Unsound { path: PathBuf, why: String },
    #[error(
        "the folder {} does not exist: create it first (mkdir -p {})",
        .0.display(), .0.display()
    )]
    NoFolder(PathBuf),
    #[error(transparent)]
    Open(#[from] crate::db::OpenError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn lock_path(db_file: &Path) -> PathBuf {
    let mut name = db_file.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn open_lock(db_file: &Path) -> Result<File, BackupError> {
    Ok(OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(db_file))?)
}

/// A process's claim on a SQLite database it serves: while it is held, no restore
/// replaces the file. Released when dropped (or when the process ends).
#[derive(Debug)]
pub struct InUse {
    _lock: File,
}

impl InUse {
    /// Claims the database behind `database_url`; `None` when it is not a SQLite file.
    pub fn claim(database_url: &str) -> Result<Option<InUse>, BackupError> {
        let Some(file) = sqlite_file(database_url) else {
            return Ok(None);
        };
        let lock = open_lock(&file)?;
        match lock.try_lock_shared() {
            Ok(()) => Ok(Some(InUse { _lock: lock })),
            Err(TryLockError::WouldBlock) => Err(BackupError::Restoring(file)),
            Err(TryLockError::Error(e)) => Err(e.into()),
        }
    }
}

/// What a backup or a restore made.
#[derive(Debug, Clone)]
pub struct Report {
    pub path: PathBuf,
    pub bytes: u64,
    /// Rows of the main tables, as a reader sees them in the copy.
    pub counts: Vec<(&'static str, i64)>,
}

const COUNTED: [&str; 5] = [
    "organizations",
    "users",
    "memberships",
    "events",
    "audit_log",
];

/// Writes a consistent copy of the live database behind `database_url` to `dest` (which
/// must not exist), then opens the copy and checks it.
pub async fn backup(database_url: &str, dest: &Path) -> Result<Report, BackupError> {
    if sqlite_file(database_url).is_none() {
        return Err(BackupError::NotSqlite);
    }
    if dest.exists() {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    let dest = &std::path::absolute(dest)?;
    if let Some(folder) = dest.parent()
        && !folder.is_dir()
    {
        return Err(BackupError::NoFolder(folder.to_path_buf()));
    }
    let dest_text = dest
        .to_str()
        .ok_or_else(|| BackupError::Unsound {
            path: dest.to_path_buf(),
            why: "the path is not valid UTF-8".into(),
        })?
        .to_string();
    let db = crate::db::open(
        database_url,
        1,
        crate::db::DEFAULT_ACQUIRE_TIMEOUT,
        crate::db::Opening::MustExist,
    )
    .await?;
    // The copy is one read transaction's snapshot: writers go on meanwhile.
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [dest_text.into()],
    ))
    .await?;
    db.close().await?;
    check(dest).await
}

/// Opens a database file read-only, checks its integrity and that it is offboard's,
/// and counts its main tables.
pub async fn check(path: &Path) -> Result<Report, BackupError> {
    if !path.is_file() {
        return Err(BackupError::Missing(path.to_path_buf()));
    }
    let unsound = |why: String| BackupError::Unsound {
        path: path.to_path_buf(),
        why,
    };
    let url = format!("sqlite://{}?mode=ro", path.display());
    let db = Database::connect(&url)
        .await
        .map_err(|e| unsound(e.to_string()))?;
    let result: Result<Vec<(&'static str, i64)>, BackupError> = async {
        let ok = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await
            .map_err(|e| unsound(e.to_string()))?
            .and_then(|r| r.try_get_by_index::<String>(0).ok())
            .unwrap_or_default();
        if ok != "ok" {
            return Err(unsound(format!("integrity check: {ok}")));
        }
        let migrations = crate::db::migration_state(&db)
            .await
            .map_err(|_| unsound("it has no offboard migrations".into()))?;
        if let Some(version) = migrations.unknown {
            return Err(unsound(format!(
                "it was written by a newer offboard (migration {version}); restore it with that release"
            )));
        }
        let mut counts = Vec::new();
        for table in COUNTED {
            let n = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    format!("SELECT COUNT(*) FROM {table}"),
                ))
                .await?
                .and_then(|r| r.try_get_by_index::<i64>(0).ok())
                .unwrap_or(0);
            counts.push((table, n));
        }
        Ok(counts)
    }
    .await;
    db.close().await?;
    Ok(Report {
        path: path.to_path_buf(),
        bytes: std::fs::metadata(path)?.len(),
        counts: result?,
    })
}

/// Replaces the database behind `database_url` with the backup `src`, once the backup
/// checks out and no offboard process uses the database. The database's WAL and shared
/// memory files go with it (they belong to the database being replaced).
pub async fn restore(database_url: &str, src: &Path) -> Result<Report, BackupError> {
    let Some(target) = sqlite_file(database_url) else {
        return Err(BackupError::NotSqlite);
    };
    // A restore may make the database (a new machine), never its folder.
    crate::db::preflight(database_url, crate::db::Opening::MayCreate)?;
    let lock = open_lock(&target)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(BackupError::InUse(target)),
        Err(TryLockError::Error(e)) => return Err(e.into()),
    }
    check(src).await?;
    let mut staging = target.as_os_str().to_owned();
    staging.push(".restoring");
    let staging = PathBuf::from(staging);
    std::fs::copy(src, &staging)?;
    File::open(&staging)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let mut side = target.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    std::fs::rename(&staging, &target)?;
    drop(lock);
    check(&target).await
}
