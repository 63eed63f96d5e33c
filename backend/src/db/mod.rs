//! Persistence: the only place that speaks SQL (through diesel).
//!
//! Two backends share one schema and one set of queries. SQLite is embedded: one writer
//! connection (SQLite allows one writer at a time, so queuing in the pool beats busy
//! retries) and a pool of read-only connections, in WAL mode so readers never block the
//! writer. PostgreSQL uses one pool for both.
//!
//! Each table has one file here, the only place its SQL lives. Query functions take a
//! [`Conn`] and never open a connection or a transaction of their own: the workflow
//! (intake, a work order's change, an import batch) opens one with [`Database::read`] or
//! [`Database::write`] and calls them in order, so several tables change together or
//! not at all.
//!
//! Functions here return [`DbError`]; the HTTP layer decides what a caller sees.

/// Runs `$body` with `$c` bound to the concrete connection inside `$conn` (a
/// `&mut Conn`): query code is written once and compiled for each backend.
macro_rules! on {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Sqlite($c) => {
                let $c: &mut diesel::sqlite::SqliteConnection = $c;
                $body
            }
            $crate::db::Conn::Postgres($c) => {
                let $c: &mut diesel::pg::PgConnection = $c;
                $body
            }
        }
    };
}

pub mod api_keys;
mod checkpoint;
pub mod crews;
pub mod demo;
pub mod feedback;
pub mod import_runs;
pub mod installation;
pub mod issues;
mod kept;
pub mod leases;
pub mod maintenance;
pub mod media;
pub mod outbox;
pub mod priority;
pub mod request_sources;
pub mod requests;
pub mod risk;
pub mod schema;
pub mod segment_ratings;
pub mod segments;
pub mod sensor_readings;
pub mod services;
pub mod subscriptions;
pub mod summaries;
pub mod truth;
mod url;
pub mod wards;
pub mod weather;
pub mod webhooks;
pub mod words;
pub mod work_orders;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;
pub use url::DatabaseUrl;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// SQLite page cache of the writer connection, KiB (the PRAGMA takes it negated).
pub(crate) const SQLITE_CACHE_KIB: i64 = 262_144;
/// SQLite page cache of each reader connection, KiB. Every reader keeps its own copy of
/// the pages it read, so the readers' caches are what a server's memory grows to under
/// load (the pool's readers × this); a page not cached is one read from the operating
/// system's file cache. Measured in BENCHMARKS.md, "The soak".
const SQLITE_READER_CACHE_KIB: i64 = 8_000;

/// Longest wait for a turn at SQLite's write connection, first come first served.
const WRITE_TURN_WAIT: Duration = Duration::from_secs(30);
/// Gathers the statistics SQLite's query planner reads (`sqlite_stat1`), from at most
/// about 2,000 rows of each index, so that it takes a fraction of a second even on the
/// large demo city. Without them SQLite guesses, and for a box filtered by service it
/// chose the `(service_code, requested_at)` index over the grid cells: it read every
/// pothole of the city to list a block's (0.68 s on the large demo city; 1.2 ms now).
const SQLITE_STATISTICS: &str = "PRAGMA analysis_limit = 2000; ANALYZE;";

/// Any arbitrary key shared by every Upkeep server: it serialises migrations when several
/// servers start at once against one PostgreSQL database.
const MIGRATION_LOCK_KEY: i64 = 0x5550_4b45_4550;

/// What can go wrong below the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    /// The database's storage is full; nothing was written.
    #[error("the database's storage is full: {0}")]
    Full(diesel::result::Error),
    /// The database takes no writes for now (a read-only file, or a PostgreSQL standby
    /// or read-only session); nothing was written.
    #[error("the database is read-only: {0}")]
    ReadOnly(diesel::result::Error),
    /// The database's storage failed (a disk I/O error) or the connection to it was
    /// lost; nothing was written.
    #[error("the database is unavailable: {0}")]
    Unavailable(diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the report writer has stopped")]
    WriterStopped,
}

pub type DbResult<T> = Result<T, DbError>;

impl From<diesel::result::Error> for DbError {
    /// Sorts out the faults a caller should retry later from the errors of a query.
    ///
    /// PostgreSQL's read-only refusal comes with its SQLSTATE (25006), which diesel
    /// reports as a kind. diesel hands over neither SQLite's result codes nor
    /// PostgreSQL's other SQLSTATEs, so the rest are told by the text that goes with
    /// the code: SQLite's is fixed per code (`sqlite3_errstr`: SQLITE_FULL is "database
    /// or disk is full", SQLITE_READONLY "attempt to write a readonly database"), and
    /// PostgreSQL's disk-full errors carry the system's ENOSPC text.
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        let Error::DatabaseError(kind, info) = &error else {
            return DbError::Query(error);
        };
        let message = info.message();
        let fault = if matches!(kind, DatabaseErrorKind::ReadOnlyTransaction)
            || message.starts_with("attempt to write a readonly database")
        {
            DbError::ReadOnly(error)
        } else if message.starts_with("database or disk is full")
            || message.contains("No space left on device")
        {
            DbError::Full(error)
        } else if matches!(kind, DatabaseErrorKind::ClosedConnection)
            || message.starts_with("disk I/O error")
        {
            DbError::Unavailable(error)
        } else {
            return DbError::Query(error);
        };
        note_fault(&fault);
        fault
    }
}

impl DbError {
    /// What may be said in public about a fault (`/health`): its kind, never its details
    /// (paths, addresses), which go to the log.
    pub fn public_reason(&self) -> &'static str {
        match self {
            DbError::Pool(_) => "no connection to the database could be made",
            DbError::Full(_) => "the database's storage is full",
            DbError::ReadOnly(_) => "the database is read-only",
            DbError::Unavailable(_) => {
                "the database's storage failed or the connection to it was lost"
            }
            _ => "a database query failed",
        }
    }
}

thread_local! {
    /// The last database fault met on this thread. A unit of work runs on one thread
    /// and its errors may come back wrapped in the caller's own error type, so
    /// [`Database::write`] learns of a fault here rather than from what the work returns.
    static NOTED_FAULT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

fn note_fault(fault: &DbError) {
    NOTED_FAULT.with(|noted| *noted.borrow_mut() = Some(fault.public_reason().to_owned()));
}

fn take_noted_fault() -> Option<String> {
    NOTED_FAULT.with(|noted| noted.borrow_mut().take())
}

/// What this server last learnt about the database taking writes, shared by every clone
/// of a [`Database`].
#[derive(Debug, Default)]
pub struct WriteHealth {
    /// Why the last write failed for a fault of the database, in public words; None
    /// once a check proves the database takes writes again.
    fault: std::sync::Mutex<Option<String>>,
    /// Set when the SQLite writer connection must not be used again: one opened while
    /// the file was read-only stays read-only after the file is writable again.
    discard_writer: std::sync::atomic::AtomicBool,
}

impl WriteHealth {
    fn set(&self, fault: Option<String>) {
        if let Ok(mut current) = self.fault.lock() {
            match (&*current, &fault) {
                // The error itself is logged where it is answered.
                (None, Some(reason)) => tracing::error!(%reason, "database writes are failing"),
                (Some(_), None) => tracing::info!("database writes succeed again"),
                _ => {}
            }
            *current = fault;
        }
    }

    /// What a write taught: a fault is recorded. Only [`Database::check_writable`]
    /// clears one: a transaction that commits may have written nothing (an update that
    /// matched no row commits even on a read-only file), so it proves nothing.
    fn learn(&self, fault: Option<String>) {
        if fault.is_some() {
            self.set(fault);
        }
    }

    fn fault(&self) -> Option<String> {
        self.fault.lock().ok().and_then(|fault| fault.clone())
    }
}

/// diesel's SQLite connection manager, with a way to retire the writer connection
/// after a fault so that the next write opens a fresh one.
#[derive(Debug)]
pub struct SqliteWriter {
    inner: ConnectionManager<SqliteConnection>,
    health: std::sync::Arc<WriteHealth>,
}

impl diesel::r2d2::ManageConnection for SqliteWriter {
    type Connection = SqliteConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<SqliteConnection, Self::Error> {
        self.inner.connect()
    }

    fn is_valid(&self, conn: &mut SqliteConnection) -> Result<(), Self::Error> {
        self.inner.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut SqliteConnection) -> bool {
        use std::sync::atomic::Ordering;
        self.inner.has_broken(conn) || self.health.discard_writer.swap(false, Ordering::SeqCst)
    }
}

/// A connection of either backend, lent by [`Database::read`] or [`Database::write`]
/// for one unit of work.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Conn<'_> {
    /// Runs `work` in one read transaction, so that all it reads is one snapshot: a
    /// page of a listing and the count that goes with it agree even while reports and
    /// work orders are written between the two statements.
    pub fn snapshot<T>(&mut self, work: impl FnOnce(&mut Conn<'_>) -> DbResult<T>) -> DbResult<T> {
        match self {
            // A deferred transaction: in WAL mode its first read fixes the snapshot.
            Conn::Sqlite(conn) => {
                diesel::Connection::transaction(&mut **conn, |conn| work(&mut Conn::Sqlite(conn)))
            }
            Conn::Postgres(conn) => conn
                .build_transaction()
                .read_only()
                .repeatable_read()
                .run(|conn| work(&mut Conn::Postgres(conn))),
        }
    }
}

/// Why a write transaction ended without committing: the work failed (its error is
/// kept aside), or the database did (beginning or committing).
enum Rollback {
    WorkFailed,
    Database(diesel::result::Error),
}

/// A [`Rollback`] with the database's error sorted into a [`DbError`] at once, so that
/// a fault is noted before the transaction's outcome is read.
enum Classified {
    WorkFailed,
    Database(DbError),
}

impl Rollback {
    fn classified(self) -> Classified {
        match self {
            Rollback::WorkFailed => Classified::WorkFailed,
            Rollback::Database(error) => Classified::Database(DbError::from(error)),
        }
    }
}

impl From<diesel::result::Error> for Rollback {
    fn from(error: diesel::result::Error) -> Self {
        Rollback::Database(error)
    }
}

/// A boxed query that `Predicate` narrows into the same type: the bound that lets one
/// filter function, generic over the backend, build its query for SQLite and PostgreSQL
/// (diesel's own bounds for a generic backend name private traits).
pub(crate) trait NarrowedBy<Predicate>:
    diesel::query_dsl::methods::FilterDsl<Predicate, Output = Self>
{
}

impl<Predicate, Query> NarrowedBy<Predicate> for Query where
    Query: diesel::query_dsl::methods::FilterDsl<Predicate, Output = Query>
{
}

/// `rows` in the order of `ids` (each row once; ids with no row are skipped).
fn in_order_of<T>(ids: &[i64], rows: Vec<T>, id: impl Fn(&T) -> i64) -> Vec<T> {
    let mut by_id: std::collections::HashMap<i64, T> =
        rows.into_iter().map(|row| (id(&row), row)).collect();
    ids.iter().filter_map(|id| by_id.remove(id)).collect()
}

type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;
type PgPool = Pool<ConnectionManager<PgConnection>>;

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub enum Database {
    Sqlite {
        writer: Pool<SqliteWriter>,
        readers: SqlitePool,
        health: std::sync::Arc<WriteHealth>,
        /// Turns at the one write connection, first come first served: the pool hands
        /// it to whichever thread asks first after a release, so a background job
        /// writing in short transactions took it back again and again while a batch of
        /// residents' reports waited (a third of a second at full intake).
        turns: std::sync::Arc<parking_lot::FairMutex<()>>,
        /// Copies the write-ahead log back while the database is open.
        _checkpointer: std::sync::Arc<checkpoint::Checkpointer>,
    },
    Postgres {
        pool: PgPool,
        /// A streaming replica for reads that may lag a moment (listings), if set.
        replica: Option<PgPool>,
        health: std::sync::Arc<WriteHealth>,
    },
}

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists already: a backup never overwrites a file; name a new one")]
    Exists(std::path::PathBuf),
    #[error(
        "PostgreSQL is backed up with its own tools: pg_dump --format=custom (see docs/deploy.md)"
    )]
    Postgres,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Copies a SQLite database to `target` while servers keep using it (`VACUUM INTO`):
/// one consistent snapshot, compacted, written through its own connection so that it
/// holds up no server's writer. Returns the copy's size in bytes.
pub fn backup(url: &DatabaseUrl, target: &std::path::Path) -> Result<u64, BackupError> {
    use diesel::Connection;
    let DatabaseUrl::Sqlite(path) = url else {
        return Err(BackupError::Postgres);
    };
    if target.exists() {
        return Err(BackupError::Exists(target.to_owned()));
    }
    let mut conn = SqliteConnection::establish(&path.display().to_string())
        .map_err(|e| DbError::Migration(format!("cannot open {}: {e}", path.display())))?;
    conn.batch_execute("PRAGMA busy_timeout = 10000;")
        .map_err(DbError::from)?;
    use diesel::RunQueryDsl;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(target.display().to_string())
        .execute(&mut conn)
        .map_err(DbError::from)?;
    Ok(std::fs::metadata(target).map(|m| m.len()).unwrap_or(0))
}

/// Settings applied to every SQLite connection as it is opened.
#[derive(Debug, Clone, Copy)]
struct SqlitePragmas {
    read_only: bool,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // WAL + synchronous=NORMAL: a commit is in the WAL file before it returns, so an
        // acknowledged report survives the process being killed; only a power cut can
        // lose the last few commits, which the operating system had not yet flushed.
        let cache_kib = if self.read_only {
            SQLITE_READER_CACHE_KIB
        } else {
            SQLITE_CACHE_KIB
        };
        // temp_store = MEMORY: a statement inside a transaction that may have to undo
        // itself alone (an insert checking foreign keys, an upsert) keeps a journal of
        // the pages it changes; in a file, each such statement created, wrote and
        // deleted one, which took about a sixth of the report writer's time.
        let mut pragmas = format!(
            "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
             PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{cache_kib}; \
             PRAGMA temp_store = MEMORY;",
        );
        if self.read_only {
            pragmas.push_str(" PRAGMA query_only = ON;");
        } else {
            // The checkpoint thread copies the log back (see `checkpoint`).
            pragmas.push_str(&format!(
                " PRAGMA wal_autocheckpoint = {};",
                checkpoint::WRITER_AUTOCHECKPOINT_PAGES
            ));
        }
        conn.batch_execute(&pragmas)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Database {
    /// Opens (and for SQLite creates) the database and brings its schema up to date.
    pub fn open(url: &DatabaseUrl, pool_size: u32) -> DbResult<Database> {
        let database = match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        DbError::Migration(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                let path = path.to_string_lossy().into_owned();
                // WAL is a property of the file: set it once, before the pools open.
                {
                    use diesel::Connection;
                    let mut conn = SqliteConnection::establish(&path)
                        .map_err(|e| DbError::Migration(format!("cannot open {path}: {e}")))?;
                    conn.batch_execute("PRAGMA journal_mode = WAL;")?;
                }
                let health = std::sync::Arc::new(WriteHealth::default());
                let writer = Pool::builder()
                    .max_size(1)
                    .connection_timeout(Duration::from_secs(30))
                    .connection_customizer(Box::new(SqlitePragmas { read_only: false }))
                    .build(SqliteWriter {
                        inner: ConnectionManager::new(path.clone()),
                        health: health.clone(),
                    })?;
                let readers = Pool::builder()
                    .max_size(pool_size)
                    .min_idle(Some(1))
                    .connection_customizer(Box::new(SqlitePragmas { read_only: true }))
                    .build(ConnectionManager::new(path.clone()))?;
                Database::Sqlite {
                    writer,
                    readers,
                    health,
                    turns: Default::default(),
                    _checkpointer: std::sync::Arc::new(checkpoint::Checkpointer::start(path)),
                }
            }
            DatabaseUrl::Postgres(url) => {
                // r2d2 retries a lost server with a back-off capped at half this
                // timeout: a database that comes back is in use again within 2.5 s.
                let pool = Pool::builder()
                    .max_size(pool_size)
                    .min_idle(Some(1))
                    .connection_timeout(Duration::from_secs(5))
                    .build(ConnectionManager::new(url.clone()))?;
                Database::Postgres {
                    pool,
                    replica: None,
                    health: Default::default(),
                }
            }
        };
        database.migrate()?;
        // After the migrations, so that a new index is counted too, and before any reader
        // has read the schema: a connection reads the statistics with it and keeps them
        // while it lives. Best effort: another server may hold the write lock past the
        // wait, or the file may take no writes (the start-up write check says so
        // clearly). PostgreSQL's autovacuum gathers its own as tables change.
        if matches!(database, Database::Sqlite { .. })
            && let Err(e) = database.refresh_statistics()
        {
            tracing::warn!(error = %e, "could not gather the query planner's statistics");
        }
        Ok(database)
    }

    /// Sends the reads that may lag a moment ([`Database::read_replica`]) to a
    /// PostgreSQL streaming replica at `url`. SQLite has none.
    pub fn with_replica(self, url: &DatabaseUrl, pool_size: u32) -> DbResult<Database> {
        match (self, url) {
            (Database::Postgres { pool, health, .. }, DatabaseUrl::Postgres(url)) => {
                // Every connection kept open: a read takes an idle one or goes to the
                // primary, never waiting (see `read_replica`).
                let replica = Pool::builder()
                    .max_size(pool_size)
                    .min_idle(Some(pool_size))
                    .connection_timeout(Duration::from_secs(5))
                    // A replica that is down at start delays nothing: reads go to the
                    // primary until it answers.
                    .build_unchecked(ConnectionManager::new(url.clone()));
                Ok(Database::Postgres {
                    pool,
                    replica: Some(replica),
                    health,
                })
            }
            _ => Err(DbError::Migration(
                "a read replica needs PostgreSQL for both database_url and database_read_url"
                    .into(),
            )),
        }
    }

    /// Runs every pending embedded migration.
    pub fn migrate(&self) -> DbResult<()> {
        let failed =
            |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
        match self {
            Database::Sqlite { writer, .. } => {
                let mut conn = writer.get()?;
                conn.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map_err(failed)?;
            }
            Database::Postgres { pool, .. } => {
                let mut conn = pool.get()?;
                conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
                let result = conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
                conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
                result.map_err(failed)?;
            }
        }
        Ok(())
    }

    /// Runs `work` on a connection that may only read (on SQLite, one of the readers, so
    /// reads never wait for the writer). Consecutive reads are not one snapshot; use
    /// [`Conn::snapshot`] when they must agree.
    pub fn read<T, E>(&self, work: impl FnOnce(&mut Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        match self {
            Database::Sqlite { readers, .. } => {
                let mut pooled = readers.get().map_err(DbError::from)?;
                work(&mut Conn::Sqlite(&mut pooled))
            }
            Database::Postgres { pool, .. } => {
                let mut pooled = pool.get().map_err(DbError::from)?;
                work(&mut Conn::Postgres(&mut pooled))
            }
        }
    }

    /// Runs `work` on the read replica if there is one and it answers, else as
    /// [`Database::read`]. The replica may lag the primary by a moment: use it for
    /// listings, and read what a caller has just written with [`Database::read`].
    pub fn read_replica<T, E>(
        &self,
        work: impl FnOnce(&mut Conn<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError>,
    {
        if let Database::Postgres {
            replica: Some(replica),
            ..
        } = self
        {
            // No wait: with every replica connection busy, or the replica down (its pool
            // then keeps none), the primary answers.
            if let Some(mut pooled) = replica.try_get() {
                return work(&mut Conn::Postgres(&mut pooled));
            }
        }
        self.read(work)
    }

    /// [`Database::read_replica`] when the answer may lag a moment, else
    /// [`Database::read`].
    pub fn read_lagging<T, E>(
        &self,
        may_lag: bool,
        work: impl FnOnce(&mut Conn<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError>,
    {
        if may_lag {
            self.read_replica(work)
        } else {
            self.read(work)
        }
    }

    /// Finds one thing that may have just been written (a resident's own report): on
    /// the replica, and on the primary when the replica has not caught up and finds
    /// nothing. Also says whether the answer came from the replica, so that what goes
    /// with it is read from the same place.
    pub fn find_fresh<T, E>(
        &self,
        work: impl Fn(&mut Conn<'_>) -> Result<Option<T>, E>,
    ) -> Result<(Option<T>, bool), E>
    where
        E: From<DbError>,
    {
        let found = self.read_replica(&work)?;
        if found.is_some() || !self.has_replica() {
            return Ok((found, true));
        }
        Ok((self.read(&work)?, false))
    }

    /// Whether reads may go to a replica.
    pub fn has_replica(&self) -> bool {
        matches!(
            self,
            Database::Postgres {
                replica: Some(_),
                ..
            }
        )
    }

    /// Runs `work` in one write transaction: everything it writes is committed together
    /// when it returns `Ok`, and nothing is when it returns `Err`.
    ///
    /// On SQLite the transaction takes the write lock when it begins (`BEGIN IMMEDIATE`):
    /// one that read first and then wrote could otherwise fail at once with "database is
    /// locked" when another process (a second server on the same file) wrote in between,
    /// instead of waiting its turn.
    pub fn write<T, E>(&self, work: impl FnOnce(&mut Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        // The work's own error is kept here rather than passed through diesel: when the
        // database has already undone the transaction itself (SQLite does on a full
        // disk), diesel's rollback fails and would report that failure instead.
        let mut failure = None;
        let run = |conn: &mut Conn<'_>| {
            work(conn).map_err(|error| {
                failure = Some(error);
                Rollback::WorkFailed
            })
        };
        take_noted_fault();
        let unreachable = |error: diesel::r2d2::PoolError| {
            let error = DbError::from(error);
            self.health().set(Some(error.public_reason().to_owned()));
            error
        };
        let done = match self {
            Database::Sqlite {
                writer,
                health,
                turns,
                ..
            } => {
                // Past the pool's own wait, the pool decides (and times out) as before.
                let _turn = turns.try_lock_for(WRITE_TURN_WAIT);
                let mut pooled = writer.get().map_err(unreachable)?;
                let done = pooled
                    .immediate_transaction(|conn| run(&mut Conn::Sqlite(conn)))
                    .map_err(Rollback::classified);
                let fault = done.as_ref().err().and_then(|_| take_noted_fault());
                if fault.is_some() {
                    // Retired as it goes back to the pool, before anyone else takes it.
                    health
                        .discard_writer
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                }
                drop(pooled);
                self.health().learn(fault);
                done
            }
            Database::Postgres { pool, .. } => {
                let mut pooled = pool.get().map_err(unreachable)?;
                let done = diesel::Connection::transaction(&mut *pooled, |conn| {
                    run(&mut Conn::Postgres(conn))
                })
                .map_err(Rollback::classified);
                let fault = done.as_ref().err().and_then(|_| take_noted_fault());
                self.health().learn(fault);
                done
            }
        };
        match (done, failure) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(error)) => Err(error),
            (Err(Classified::Database(error)), None) => Err(E::from(error)),
            (Err(Classified::WorkFailed), None) => {
                unreachable!("a failed work leaves its error")
            }
        }
    }

    /// Brings the query planner's statistics up to date after a bulk load (the demo
    /// city, an import). On SQLite, connections already reading take them when they are
    /// next opened (the pools renew them within half an hour) or when the database is;
    /// PostgreSQL's `ANALYZE` reaches every session at once.
    pub fn refresh_statistics(&self) -> DbResult<()> {
        self.write(|conn| {
            match conn {
                Conn::Sqlite(conn) => conn.batch_execute(SQLITE_STATISTICS),
                Conn::Postgres(conn) => conn.batch_execute("ANALYZE;"),
            }
            .map_err(DbError::from)
        })
    }

    /// Short name of the backend, for logs and `/health`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    /// A trivial round trip, for health checks.
    pub fn ping(&self) -> DbResult<()> {
        self.read(|conn| Ok(on!(conn, |c| c.batch_execute("SELECT 1"))?))
    }

    fn health(&self) -> &WriteHealth {
        match self {
            Database::Sqlite { health, .. } | Database::Postgres { health, .. } => health,
        }
    }

    /// Why writes are failing, when one failed for a fault of the database (read-only,
    /// full, unreachable) and no check has since proved otherwise.
    pub fn write_fault(&self) -> Option<String> {
        self.health().fault()
    }

    /// Writes one small row to learn whether the database takes writes now; a success
    /// clears a recorded fault, a failure records it. At start and while a fault lasts.
    pub fn check_writable(&self) -> DbResult<()> {
        self.write(|conn| installation::prove_writable(conn, crate::domain::now()))?;
        self.health().set(None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_matches_the_migrations() {
        use diesel::RunQueryDsl;
        use diesel::query_dsl::QueryDsl;
        use diesel::sqlite::Sqlite;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::Sqlite(dir.path().join("schema.db"));
        let db = Database::open(&url, 1).expect("open");
        // Selecting every column diesel knows of fails if any is missing from the SQL.
        macro_rules! check {
            ($($table:ident),*) => {$(
                let sql = diesel::debug_query::<Sqlite, _>(
                    &schema::$table::table.select(schema::$table::all_columns).limit(0),
                ).to_string();
                let sql = sql.split(" -- binds").next().unwrap_or_default().replace('?', "0");
                let run = || -> DbResult<usize> {
                    db.read(|conn| Ok(on!(conn, |c| diesel::sql_query(&sql).execute(c))?))
                };
                run().unwrap_or_else(|e| panic!("table {}: {e}", stringify!($table)));
            )*};
        }
        check!(
            services,
            crews,
            api_keys,
            wards,
            segments,
            issues,
            requests,
            request_updates,
            media,
            work_orders,
            work_order_events,
            maintenance_history,
            sensor_readings,
            weather_daily,
            model_versions,
            risk_scores,
            neighbourhoods,
            demo_cities,
            truth_neighbourhoods,
            truth_segments,
            truth_potholes,
            truth_report_potholes,
            truth_segment_weeks,
            issue_reporters,
            priority_weights,
            inspection_plans,
            request_sources,
            installation
        );
    }

    #[test]
    fn a_full_or_read_only_sqlite_file_is_told_apart_from_other_failures() {
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::Sqlite(dir.path().join("full.db"));
        let db = Database::open(&url, 1).expect("open");
        let filled = db.write(|conn| -> DbResult<()> {
            on!(conn, |c| {
                c.batch_execute("CREATE TABLE filler (bytes BLOB); PRAGMA max_page_count = 1")?;
                for _ in 0..1000 {
                    c.batch_execute("INSERT INTO filler VALUES (randomblob(4000))")?;
                }
            });
            Ok(())
        });
        assert!(matches!(filled, Err(DbError::Full(_))), "{filled:?}");
        let refused = db.write(|conn| -> DbResult<()> {
            on!(conn, |c| c.batch_execute(
                "PRAGMA query_only = ON; INSERT INTO services (code) VALUES ('x')"
            )?);
            Ok(())
        });
        assert!(matches!(refused, Err(DbError::ReadOnly(_))), "{refused:?}");
        let broken = db.read(|conn| -> DbResult<()> {
            on!(conn, |c| c.batch_execute("SELECT * FROM no_such_table")?);
            Ok(())
        });
        assert!(matches!(broken, Err(DbError::Query(_))), "{broken:?}");
    }

    #[test]
    fn every_migration_can_be_reverted_and_reapplied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::Sqlite(dir.path().join("revert.db"));
        let db = Database::open(&url, 1).expect("open");
        let Database::Sqlite { writer, .. } = &db else {
            unreachable!()
        };
        let mut conn = writer.get().expect("conn");
        conn.revert_all_migrations(SQLITE_MIGRATIONS)
            .expect("down.sql runs");
        conn.run_pending_migrations(SQLITE_MIGRATIONS)
            .expect("up.sql runs again");
    }
}
