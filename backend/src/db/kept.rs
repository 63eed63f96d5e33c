//! Updates that run once per report or per work order, written so that diesel keeps them
//! prepared.
//!
//! Diesel prepares every `diesel::update(..)` afresh, because a changeset may leave out
//! its `None` fields and so change its SQL. On the report writer that parse and plan cost
//! as much as the update itself. Each statement here has one fixed text and a static
//! query id, so diesel's statement cache prepares it once per connection, on SQLite and
//! PostgreSQL alike (bind markers are the backend's own). Table and column names are
//! checked by the tests that run them on both backends.

use super::words::Json;
use crate::domain::{AnswerPairs, Breakdown};
use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::pg::PgConnection;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Double, HasSqlType, Integer, Nullable, Text, Timestamp};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{QueryResult, RunQueryDsl};

/// Marks a statement's text as fixed, so that diesel caches it by type.
macro_rules! kept_statement {
    ($name:ident) => {
        impl QueryId for $name {
            type QueryId = Self;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        impl<Conn> RunQueryDsl<Conn> for $name {}
    };
}

/// A report joined the issue at `at`: one more reporter unless it is the same one
/// (`added_reporters` 0 or 1). Reads back the issue's first report and the answers kept
/// on it.
pub(crate) struct JoinIssue {
    pub issue_id: i64,
    pub added_reporters: i32,
    pub at: NaiveDateTime,
}
kept_statement!(JoinIssue);

impl Query for JoinIssue {
    type SqlType = (Nullable<BigInt>, Nullable<Text>);
}

impl<DB> QueryFragment<DB> for JoinIssue
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Integer> + HasSqlType<Timestamp>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE issues SET reporter_count = reporter_count + ");
        out.push_bind_param::<Integer, _>(&self.added_reporters)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.issue_id)?;
        out.push_sql(" RETURNING first_request_id, answers");
        Ok(())
    }
}

/// Keeps the distinct answers of an issue's reports on it.
pub(crate) struct SetIssueAnswers {
    pub issue_id: i64,
    pub answers: Json<AnswerPairs>,
}
kept_statement!(SetIssueAnswers);

impl<DB> QueryFragment<DB> for SetIssueAnswers
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    Json<AnswerPairs>: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE issues SET answers = ");
        out.push_bind_param::<Text, _>(&self.answers)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.issue_id)?;
        Ok(())
    }
}

/// Records the first report of an issue just started.
pub(crate) struct SetFirstRequest {
    pub issue_id: i64,
    pub request_id: i64,
}
kept_statement!(SetFirstRequest);

impl<DB> QueryFragment<DB> for SetFirstRequest
where
    DB: Backend + HasSqlType<BigInt>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE issues SET first_request_id = ");
        out.push_bind_param::<BigInt, _>(&self.request_id)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.issue_id)?;
        Ok(())
    }
}

/// A work order's priority and how it was made up.
pub(crate) struct SetPriority {
    pub work_order_id: i64,
    pub priority: f64,
    pub breakdown: Json<Breakdown>,
}
kept_statement!(SetPriority);

impl<DB> QueryFragment<DB> for SetPriority
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Double> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    f64: ToSql<Double, DB>,
    Json<Breakdown>: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE work_orders SET priority = ");
        out.push_bind_param::<Double, _>(&self.priority)?;
        out.push_sql(", priority_breakdown = ");
        out.push_bind_param::<Text, _>(&self.breakdown)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.work_order_id)?;
        Ok(())
    }
}

/// The rowid SQLite gave the row this connection inserted last.
///
/// SQLite runs an `INSERT … RETURNING` as it would a trigger, and so keeps a statement
/// journal for it: a copy of every page the insert changes (a report's row and each of
/// its indexes), 3 % of a large city's server under a stream of reports, for an id that
/// the connection already knows. Inserts on the report writer read it back with this.
struct LastInsertRowid;
kept_statement!(LastInsertRowid);

impl Query for LastInsertRowid {
    type SqlType = BigInt;
}

impl QueryFragment<Sqlite> for LastInsertRowid {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("SELECT last_insert_rowid()");
        Ok(())
    }
}

/// Runs `insert` (one row) and returns the row's id: on SQLite read back from the
/// connection, on PostgreSQL by `returning`.
pub(crate) fn inserted_id<S, P>(
    conn: &mut super::Conn<'_>,
    sqlite: S,
    postgres: P,
) -> QueryResult<i64>
where
    S: FnOnce(&mut SqliteConnection) -> QueryResult<usize>,
    P: FnOnce(&mut PgConnection) -> QueryResult<i64>,
{
    match conn {
        super::Conn::Sqlite(conn) => {
            let conn: &mut SqliteConnection = conn;
            sqlite(conn)?;
            LastInsertRowid.get_result(conn)
        }
        super::Conn::Postgres(conn) => postgres(conn),
    }
}
