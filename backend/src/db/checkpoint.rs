//! Copying SQLite's write-ahead log back into the database file on a thread of its own.
//!
//! By default SQLite checkpoints inside whichever connection commits once the log passes
//! 1,000 pages: here that is the writer, the one thread every report waits on. On the
//! large demo city that copy (and the file writes under it) took a fifth of the writer's
//! time. So the writer checkpoints only as a last resort ([`WRITER_AUTOCHECKPOINT_PAGES`])
//! and this thread does it every [`INTERVAL`], passively: a passive checkpoint never
//! blocks the writer or a reader, it copies what it can.

use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use std::sync::mpsc;
use std::time::Duration;

/// How often the log is copied back. Under a stream of reports the log then holds a
/// tenth of a second of writes, and a page written many times in it is copied once.
const INTERVAL: Duration = Duration::from_millis(100);

/// Pages of log past which the writer checkpoints after all: only if this thread is not
/// keeping up (or could not start), so that the log cannot grow without bound.
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 200_000;

/// The checkpointing thread; it stops when this is dropped (with the last handle on the
/// database).
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the SQLite database at `path` (already in WAL mode).
    pub(super) fn start(path: String) -> Checkpointer {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || run(&path, &stopped))
            .map_err(|e| tracing::warn!(error = %e, "the checkpoint thread did not start"))
            .ok();
        Checkpointer {
            stop: Some(stop),
            thread,
        }
    }
}

fn run(path: &str, stopped: &mpsc::Receiver<()>) {
    use diesel::Connection;
    let mut conn = match SqliteConnection::establish(path) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "no checkpoint connection: the writer checkpoints");
            return;
        }
    };
    let _ = conn.batch_execute("PRAGMA busy_timeout = 1000;");
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        match conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
            Ok(()) => failing = false,
            // Said once per spell of failures: the writer's own fault handling reports
            // a database that cannot be written.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "a checkpoint failed; trying again");
            }
            Err(_) => {}
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
