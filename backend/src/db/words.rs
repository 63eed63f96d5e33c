//! Domain values stored in text columns, on both backends: enums as their words, and
//! structured values as JSON ([`Json`]).
//!
//! A stored value that no longer parses (written by hand, or by a newer release) is an
//! error naming it, never a silent default.

use crate::domain::{
    IssueStatus, ModelKind, RequestStatus, Role, SegmentClass, WorkOrderKind, WorkOrderStatus,
};
use diesel::backend::Backend;
use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::IsNull;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::str::FromStr;

/// A value stored as JSON text: lists of photo links and materials, a priority's parts,
/// a report's answers. It is written by serde and read back into its own type.
#[derive(Debug, Clone, Default, PartialEq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Json<T: std::fmt::Debug>(pub T);

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Sqlite> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Pg> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        serde_json::to_writer(out, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T, DB> FromSql<Text, DB> for Json<T>
where
    T: DeserializeOwned + std::fmt::Debug,
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = String::from_sql(bytes)?;
        serde_json::from_str(&text).map(Json).map_err(|why| {
            let what = std::any::type_name::<T>();
            tracing::error!(%why, what, "stored JSON does not read");
            format!("stored JSON does not read as {what}: {why}").into()
        })
    }
}

/// Implements `ToSql<Text>` and `FromSql<Text>` for enums with `as_str` and `FromStr`.
macro_rules! stored_as_text {
    ($($enum:ty),*) => {$(
        impl<DB> ToSql<Text, DB> for $enum
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $enum
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                parse_stored(&String::from_sql(bytes)?, stringify!($enum))
            }
        }
    )*};
}

stored_as_text!(
    IssueStatus,
    ModelKind,
    RequestStatus,
    Role,
    SegmentClass,
    WorkOrderKind,
    WorkOrderStatus
);

fn parse_stored<T: FromStr<Err = String>>(word: &str, what: &str) -> deserialize::Result<T> {
    word.parse().map_err(|why: String| {
        tracing::error!(word, what, "stored value does not parse");
        format!("stored {what} '{word}' does not parse: {why}").into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;
    use diesel::sqlite::SqliteConnection;

    #[derive(QueryableByName)]
    struct Request {
        #[diesel(sql_type = Text)]
        word: RequestStatus,
    }

    #[derive(QueryableByName)]
    struct Order {
        #[diesel(sql_type = Text)]
        word: WorkOrderStatus,
    }

    fn memory() -> SqliteConnection {
        SqliteConnection::establish(":memory:").expect("in-memory SQLite")
    }

    #[test]
    fn statuses_are_stored_as_their_words_and_read_back() {
        let mut conn = memory();
        for status in RequestStatus::ALL {
            let read: Request = diesel::sql_query("SELECT ? AS word")
                .bind::<Text, _>(status)
                .get_result(&mut conn)
                .expect("round trip");
            assert_eq!(read.word, status);
        }
        let stored: Order = diesel::sql_query("SELECT 'in_progress' AS word")
            .get_result(&mut conn)
            .expect("a stored word");
        assert_eq!(stored.word, WorkOrderStatus::InProgress);
    }

    #[test]
    fn a_stored_word_that_does_not_parse_is_an_error_naming_it_not_a_default() {
        let mut conn = memory();
        let read =
            diesel::sql_query("SELECT 'teleported' AS word").get_result::<Request>(&mut conn);
        match read {
            Err(diesel::result::Error::DeserializationError(why)) => {
                assert!(why.to_string().contains("'teleported'"), "{why}");
            }
            Err(other) => panic!("expected a deserialisation error, got {other}"),
            Ok(row) => panic!("read as {:?}", row.word),
        }
    }
}
