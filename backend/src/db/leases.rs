//! The `job_leases` table: which server runs a once-per-cluster job, and until when.

use super::schema::job_leases;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Takes the lease on `job` for `holder` until `until`, or renews it if `holder` has
/// it; true when `holder` holds it afterwards. A lease another server holds is taken
/// only once it has expired at `now`.
///
/// Safe under races: on PostgreSQL a second server's update waits for the first's row
/// and then finds it unexpired, and two inserts meet the primary key; SQLite has one
/// writer.
pub fn acquire(
    conn: &mut Conn<'_>,
    job: &str,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> DbResult<bool> {
    on!(conn, |conn| {
        let updated = diesel::update(
            job_leases::table.filter(job_leases::job.eq(job)).filter(
                job_leases::holder
                    .eq(holder)
                    .or(job_leases::expires_at.lt(now)),
            ),
        )
        .set((
            job_leases::holder.eq(holder),
            job_leases::expires_at.eq(until),
        ))
        .execute(conn)?;
        if updated > 0 {
            return Ok(true);
        }
        let inserted = diesel::insert_into(job_leases::table)
            .values((
                job_leases::job.eq(job),
                job_leases::holder.eq(holder),
                job_leases::expires_at.eq(until),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        Ok(inserted > 0)
    })
}

/// Gives up `holder`'s lease on `job` (nothing if another holds it).
pub fn release(conn: &mut Conn<'_>, job: &str, holder: &str) -> DbResult<()> {
    on!(conn, |conn| {
        diesel::delete(
            job_leases::table
                .filter(job_leases::job.eq(job))
                .filter(job_leases::holder.eq(holder)),
        )
        .execute(conn)?;
        Ok(())
    })
}

/// Who holds an unexpired lease on `job` at `now`, if anyone.
pub fn holder(conn: &mut Conn<'_>, job: &str, now: NaiveDateTime) -> DbResult<Option<String>> {
    on!(conn, |conn| Ok(job_leases::table
        .filter(job_leases::job.eq(job))
        .filter(job_leases::expires_at.ge(now))
        .select(job_leases::holder)
        .first(conn)
        .optional()?))
}
