//! The report writer: one thread that stores new reports in group commits.
//!
//! Every report is a write, and SQLite takes one writer at a time. Letting each request
//! fight for the write connection costs more in thread wake-ups than the insert itself;
//! instead requests queue here, and the writer stores everything that is waiting in one
//! transaction, then answers each request. A request is only answered after the commit
//! that holds it, so an acknowledged report is always on disk (in the WAL).

use super::store::{Stored, Submission, store_all};
use crate::db::{Database, DbError, DbResult};
use tokio::sync::{mpsc, oneshot};

/// Most reports stored in one transaction.
const MAX_BATCH: usize = 256;
/// Reports that may wait for the writer before senders have to wait too.
const QUEUE_CAPACITY: usize = 4096;

struct Job {
    submission: Submission,
    reply: oneshot::Sender<DbResult<Stored>>,
}

/// A handle on the writer thread; cheap to clone. The thread ends when every handle is
/// dropped, after storing what is queued.
#[derive(Clone)]
pub struct ReportWriter {
    queue: mpsc::Sender<Job>,
}

impl ReportWriter {
    pub fn start(db: Database) -> ReportWriter {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("report-writer".into())
            .spawn(move || write_loop(&db, jobs))
            .expect("the report writer thread starts");
        ReportWriter { queue }
    }

    /// Stores one report; returns once it is committed.
    pub async fn store(&self, submission: Submission) -> DbResult<Stored> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { submission, reply })
            .await
            .map_err(|_| DbError::WriterStopped)?;
        answer.await.map_err(|_| DbError::WriterStopped)?
    }
}

fn write_loop(db: &Database, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let submissions: Vec<&Submission> = batch.iter().map(|job| &job.submission).collect();
        match db.write(|conn| store_all(conn, &submissions)) {
            Ok(rows) => {
                for (job, row) in batch.drain(..).zip(rows) {
                    let _ = job.reply.send(Ok(row));
                }
            }
            // One bad report must not sink the others: store each on its own, so every
            // request gets its own answer.
            Err(_) => {
                for job in batch.drain(..) {
                    let result = db
                        .write(|conn| store_all(conn, &[&job.submission]))
                        .map(|mut rows| rows.remove(0));
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;
    use crate::config::DatabaseUrl;
    use crate::db::requests::NewRequest;
    use crate::domain::now;

    fn report(service_code: &str, description: String) -> Submission {
        let at = now();
        Submission {
            request: NewRequest {
                description: Some(description),
                lat: Some(43.05),
                lon: Some(-76.15),
                ..NewRequest::accepted(service_code, crate::domain::RequestStatus::Open, at)
            },
            photo: None,
            first_note: "Report received.",
            duplicate_radius_m: None,
            duplicate_notice: |parent| format!("duplicate of {parent}"),
            source: None,
        }
    }

    fn database(dir: &tempfile::TempDir) -> Database {
        let db = Database::open(&DatabaseUrl::Sqlite(dir.path().join("w.db")), 2).unwrap();
        let catalogue = catalogue::load(None).unwrap();
        db.write(|conn| crate::db::services::seed(conn, &catalogue))
            .unwrap();
        db
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reports_are_each_stored_once_with_their_own_id() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir);
        let writer = ReportWriter::start(db.clone());
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.store(report("pothole", format!("n{i}"))).await })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().unwrap().id);
        }
        // Each id holds the report that was given it.
        let rows = db
            .read(|conn| crate::db::requests::by_ids(conn, &ids))
            .unwrap();
        assert_eq!(rows.len(), 500);
        for (i, id) in ids.iter().enumerate() {
            let row = rows.iter().find(|row| row.id == *id).unwrap();
            assert_eq!(row.description.as_deref(), Some(format!("n{i}").as_str()));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failing_report_does_not_sink_the_others_in_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let writer = ReportWriter::start(database(&dir));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let writer = writer.clone();
                // An unknown service breaks the foreign key: only that report fails.
                let code = if i == 25 {
                    "no_such_service"
                } else {
                    "pothole"
                };
                tokio::spawn(async move { writer.store(report(code, format!("n{i}"))).await })
            })
            .collect();
        let mut stored = 0;
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(_) => stored += 1,
                Err(_) => assert_eq!(i, 25),
            }
        }
        assert_eq!(stored, 49);
    }
}
