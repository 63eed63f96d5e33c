//! Bulk loading of a generated city: observations into the ordinary tables, the truth
//! into `truth_*`.

pub use super::issues::IssueRow;
use super::schema::*;
pub use super::segments::SegmentRow;
use super::{Conn, DbResult};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

/// Bound parameters per INSERT: below SQLite's limit of 32,766.
const PARAMETERS_PER_INSERT: usize = 30_000;

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = wards)]
pub struct WardRow {
    pub id: i64,
    pub name: String,
    pub population: Option<i32>,
    pub income_index: Option<f64>,
    pub geometry: Option<String>,
    pub vulnerability: f64,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = neighbourhoods)]
pub struct NeighbourhoodRow {
    pub id: i64,
    pub ward_id: Option<i64>,
    pub name: String,
    pub population: i32,
    pub income_index: f64,
    pub density_per_km2: f64,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = requests)]
pub struct HistoricRequestRow {
    pub id: i64,
    pub accepted_at: Option<NaiveDateTime>,
    pub service_code: String,
    pub status: String,
    pub status_notes: Option<String>,
    pub description: Option<String>,
    pub agency_responsible: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub attributes: String,
    pub issue_id: Option<i64>,
    pub segment_id: Option<i64>,
    pub snap_distance_m: Option<f64>,
    pub requested_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expected_at: Option<NaiveDateTime>,
    pub cell: Option<i64>,
    pub closed_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = request_updates)]
pub struct HistoricUpdateRow {
    pub request_id: i64,
    pub status: &'static str,
    pub description: Option<&'static str>,
    pub author: &'static str,
    pub created_at: NaiveDateTime,
}

pub use super::crews::CrewRow;
pub use super::work_orders::WorkOrderRow;

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = maintenance_history)]
pub struct MaintenanceRow {
    pub segment_id: i64,
    pub work_order_id: Option<i64>,
    pub kind: String,
    pub performed_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = sensor_readings)]
pub struct SensorReadingRow {
    pub segment_id: i64,
    pub kind: &'static str,
    pub source: &'static str,
    pub value: f64,
    pub observed_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = weather_daily)]
pub struct WeatherRow {
    pub station: &'static str,
    pub day: NaiveDate,
    pub tmin_c: f64,
    pub tmax_c: f64,
    pub precipitation_mm: f64,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = demo_cities)]
pub struct DemoCityRow {
    pub seed: i64,
    pub size: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub loaded_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = truth_neighbourhoods)]
pub struct TruthNeighbourhoodRow {
    pub neighbourhood_id: i64,
    pub reporting_propensity: f64,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = truth_segments)]
pub struct TruthSegmentRow {
    pub segment_id: i64,
    pub drainage: f64,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = truth_potholes)]
pub struct TruthPotholeRow {
    pub id: i64,
    pub segment_id: i64,
    pub lat: f64,
    pub lon: f64,
    pub formed_on: NaiveDate,
    pub repaired_on: Option<NaiveDate>,
    pub reports: i32,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = truth_report_potholes)]
pub struct TruthReportPotholeRow {
    pub request_id: i64,
    pub pothole_id: i64,
}

#[derive(Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = truth_segment_weeks)]
pub struct TruthSegmentWeekRow {
    pub segment_id: i64,
    pub week_start: NaiveDate,
    pub pci: f64,
    pub hazard_28d: f64,
}

/// What a city adds to the database, or a part of it: every table's rows, any of them
/// empty.
#[derive(Default)]
pub struct CityRows {
    pub wards: Vec<WardRow>,
    pub crews: Vec<CrewRow>,
    pub neighbourhoods: Vec<NeighbourhoodRow>,
    pub segments: Vec<SegmentRow>,
    pub issues: Vec<IssueRow>,
    pub work_orders: Vec<WorkOrderRow>,
    pub requests: Vec<HistoricRequestRow>,
    pub updates: Vec<HistoricUpdateRow>,
    pub maintenance: Vec<MaintenanceRow>,
    pub sensor_readings: Vec<SensorReadingRow>,
    pub weather: Vec<WeatherRow>,
    pub city: Option<DemoCityRow>,
    pub truth_neighbourhoods: Vec<TruthNeighbourhoodRow>,
    pub truth_segments: Vec<TruthSegmentRow>,
    pub truth_potholes: Vec<TruthPotholeRow>,
    pub truth_report_potholes: Vec<TruthReportPotholeRow>,
    pub truth_segment_weeks: Vec<TruthSegmentWeekRow>,
}

/// True when the database holds neither road segments nor reports.
pub fn is_empty(conn: &mut Conn<'_>) -> DbResult<bool> {
    let (segments, reports): (i64, i64) = on!(conn, |conn| {
        let segments = segments::table.count().get_result(conn)?;
        let reports = requests::table.count().get_result(conn)?;
        (segments, reports)
    });
    Ok(segments == 0 && reports == 0)
}

/// Calls `$action!(table, rows, columns)` for every table of a city, parents first.
macro_rules! each_table {
    ($rows:expr, $action:ident) => {
        $action!(wards::table, $rows.wards, 6);
        $action!(crews::table, $rows.crews, 8);
        $action!(neighbourhoods::table, $rows.neighbourhoods, 6);
        $action!(segments::table, $rows.segments, 19);
        $action!(issues::table, $rows.issues, 11);
        $action!(work_orders::table, $rows.work_orders, 21);
        $action!(requests::table, $rows.requests, 17);
        $action!(request_updates::table, $rows.updates, 5);
        $action!(maintenance_history::table, $rows.maintenance, 4);
        $action!(sensor_readings::table, $rows.sensor_readings, 5);
        $action!(weather_daily::table, $rows.weather, 5);
        $action!(demo_cities::table, $rows.city.as_slice(), 5);
        $action!(truth_neighbourhoods::table, $rows.truth_neighbourhoods, 2);
        $action!(truth_segments::table, $rows.truth_segments, 2);
        $action!(truth_potholes::table, $rows.truth_potholes, 7);
        $action!(truth_report_potholes::table, $rows.truth_report_potholes, 2);
        $action!(truth_segment_weeks::table, $rows.truth_segment_weeks, 4);
    };
}

/// Where a city's parts go as they are made.
pub type Sink<'a> = dyn FnMut(CityRows) -> DbResult<()> + 'a;

/// Loads a city into the caller's transaction, a part at a time: `parts` hands each
/// part of rows (see [`CityRows`], parents before children) to the function it is given,
/// and `progress` hears the rows stored so far. SQLite takes multi-row INSERTs;
/// PostgreSQL takes COPY, several times faster there.
pub fn load(
    conn: &mut Conn<'_>,
    parts: impl FnOnce(&mut Sink<'_>) -> DbResult<()>,
    progress: &mut dyn FnMut(usize),
) -> DbResult<usize> {
    use diesel::connection::SimpleConnection;
    let mut done = 0usize;
    match conn {
        Conn::Sqlite(conn) => {
            // A bigger page cache for the bulk load (256 MiB), then back to the default.
            conn.batch_execute("PRAGMA cache_size = -262144")?;
            let loaded = parts(&mut |rows| {
                macro_rules! insert {
                    ($table:expr, $rows:expr, $columns:expr) => {
                        for chunk in $rows.chunks((PARAMETERS_PER_INSERT / $columns).max(1)) {
                            diesel::insert_into($table).values(chunk).execute(*conn)?;
                            done += chunk.len();
                            progress(done);
                        }
                    };
                }
                each_table!(rows, insert);
                Ok(())
            });
            conn.batch_execute(&format!("PRAGMA cache_size = -{}", super::SQLITE_CACHE_KIB))?;
            loaded?;
        }
        Conn::Postgres(conn) => {
            parts(&mut |rows| {
                macro_rules! copy {
                    ($table:expr, $rows:expr, $columns:expr) => {
                        // COPY streams the rows; chunks only pace the progress bar.
                        for chunk in $rows.chunks(100_000) {
                            diesel::copy_from($table)
                                .from_insertable(chunk)
                                .execute(*conn)?;
                            done += chunk.len();
                            progress(done);
                        }
                    };
                }
                each_table!(rows, copy);
                Ok(())
            })?;
            // Explicit ids leave PostgreSQL's sequences behind; move them past the loaded
            // rows so the next report gets a fresh id.
            for table in [
                "wards",
                "crews",
                "neighbourhoods",
                "segments",
                "issues",
                "work_orders",
                "requests",
                "truth_potholes",
            ] {
                conn.batch_execute(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))?;
            }
        }
    }
    Ok(done)
}
