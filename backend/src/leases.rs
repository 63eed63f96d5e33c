//! Jobs that run once per cluster: a server works only while it holds the job's lease
//! in the database, renewing it in the background; when it stops (or dies) the lease
//! lapses and another server takes the job over.

use crate::db::{Database, DbError};
use chrono::Duration;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// How long a lease lasts unless renewed: how soon another server takes over from a
/// holder that died.
pub const TTL_SECONDS: i64 = 60;
/// How often a holder renews: well within the lease's life.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The lease on the risk model's training and scoring.
pub const RISK: &str = "risk";
/// The lease on computing the summaries pages read (the neighbourhood dashboard).
pub const SUMMARIES: &str = "summaries";
/// The lease on alerts: digests, webhook batches and sending the outbox.
pub const ALERTS: &str = "alerts";

/// A lease this server holds, renewed until dropped, then given up.
pub struct Held {
    db: Database,
    job: &'static str,
    holder: String,
    stop: Arc<(Mutex<bool>, Condvar)>,
    renewer: Option<JoinHandle<()>>,
}

/// Takes `job`'s lease for `holder`; None when another server holds it.
pub fn hold(db: &Database, job: &'static str, holder: &str) -> Result<Option<Held>, DbError> {
    let now = crate::domain::now();
    let until = now + Duration::seconds(TTL_SECONDS);
    if !db.write(|conn| crate::db::leases::acquire(conn, job, holder, now, until))? {
        return Ok(None);
    }
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let renewer = {
        let (db, holder, stop) = (db.clone(), holder.to_owned(), stop.clone());
        std::thread::spawn(move || renew_until_stopped(&db, job, &holder, &stop))
    };
    Ok(Some(Held {
        db: db.clone(),
        job,
        holder: holder.to_owned(),
        stop,
        renewer: Some(renewer),
    }))
}

fn renew_until_stopped(db: &Database, job: &str, holder: &str, stop: &(Mutex<bool>, Condvar)) {
    let (stopped, wake) = stop;
    let mut guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        // The flag is looked at before waiting: a lease given up before this thread
        // first took the lock has already been notified, and would otherwise be held
        // (and its giver kept waiting in `drop`) for a whole renewal period.
        let (next, _) = wake
            .wait_timeout_while(guard, RENEW_EVERY, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        guard = next;
        if *guard {
            return;
        }
        let now = crate::domain::now();
        let until = now + Duration::seconds(TTL_SECONDS);
        match db.write(|conn| crate::db::leases::acquire(conn, job, holder, now, until)) {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job, "lost the lease to another server"),
            Err(e) => tracing::warn!(job, error = %e, "could not renew the lease"),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        if let Err(e) = self
            .db
            .write(|conn| crate::db::leases::release(conn, self.job, &self.holder))
        {
            // It lapses by itself within the lease's life.
            tracing::warn!(job = self.job, error = %e, "could not give up the lease");
        }
    }
}

/// Whether any server holds `job`'s lease now.
pub fn is_held(db: &Database, job: &str) -> Result<bool, DbError> {
    let now = crate::domain::now();
    Ok(db
        .read(|conn| crate::db::leases::holder(conn, job, now))?
        .is_some())
}
