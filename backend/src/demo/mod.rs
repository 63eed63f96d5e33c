//! The demo city: generate it (in `models`), turn it into rows ([`rows`]) and load them
//! into the database, or write it out as CSV and GeoJSON for outside tools (QGIS, pandas,
//! scikit-learn; [`export`]).

mod export;
mod rows;

pub use export::export;

use crate::catalogue::Catalogue;
use crate::db::{Database, DbResult};
use crate::domain::now;
use models::city::City;

/// Loads `city` into an empty database, a part at a time (see [`rows::each_part`]);
/// refuses a database that already holds data. `progress` hears the rows stored so far
/// and about how many there will be.
pub fn load(
    db: &Database,
    city: City,
    catalogue: &Catalogue,
    snap_limit_m: f64,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<usize> {
    if !db.read(crate::db::demo::is_empty)? {
        anyhow::bail!(
            "the database already holds road segments or reports; load the demo city into an empty one"
        );
    }
    let about = about_rows(&city);
    let now = now();
    let stored = db.write(|conn| {
        crate::db::demo::load(
            conn,
            |sink| rows::each_part(city, catalogue, now, snap_limit_m, sink),
            &mut |done| progress(done, about.max(done)),
        )
    })?;
    db.refresh_statistics()?;
    Ok(stored)
}

/// About how many rows `city` makes: one per generated thing, and two updates per report
/// (received, and most often closed).
fn about_rows(city: &City) -> usize {
    city.wards.len()
        + 2 * city.neighbourhoods.len()
        + 2 * city.segments.len()
        + 2 * city.work_orders.len()
        + 4 * city.reports.len()
        + city.maintenance.len()
        + city.probe_readings.len()
        + city.weather.len()
        + city.truth.potholes.len()
        + city.truth.segment_weeks.len()
}

/// True when the database is empty, so `serve` should load the demo city.
pub fn wants_demo(db: &Database) -> DbResult<bool> {
    db.read(crate::db::demo::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::city::{CityParams, CitySize, generate};

    fn tiny(seed: u64) -> City {
        let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid");
        generate(&CityParams::demo(seed, CitySize::Tiny, end), &mut |_| {})
    }

    #[test]
    fn every_generated_report_answers_its_service_as_the_catalogue_asks() {
        let services = crate::catalogue::load(None).unwrap();
        let city = tiny(3);
        assert!(!city.reports.is_empty());
        for report in &city.reports {
            let service = services
                .iter()
                .find(|s| s.code == report.service_code)
                .unwrap_or_else(|| panic!("{} is in the catalogue", report.service_code));
            let answers: Vec<(String, String)> = report
                .attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            if let Err(errors) = service.check_answers(&answers) {
                panic!("report {} ({}): {errors:?}", report.id, report.service_code);
            }
        }
    }

    #[test]
    fn a_loaded_city_leaves_the_query_planner_statistics_of_the_reports_indexes() {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Gathered {
            #[diesel(sql_type = diesel::sql_types::Text)]
            idx: String,
        }
        let dir = tempfile::tempdir().unwrap();
        let url = crate::db::DatabaseUrl::Sqlite(dir.path().join("demo.db"));
        let db = Database::open(&url, 1).unwrap();
        let services = crate::catalogue::load(None).unwrap();
        db.write(|conn| crate::db::services::seed(conn, &services))
            .unwrap();
        let catalogue = Catalogue {
            services: db.read(crate::db::services::active).unwrap().0,
            changed_at: now(),
        };
        load(&db, tiny(7), &catalogue, 50.0, &mut |_, _| {}).unwrap();
        let gathered: Vec<String> = db
            .read(|conn| match conn {
                crate::db::Conn::Sqlite(conn) => diesel::sql_query(
                    "SELECT idx FROM sqlite_stat1 WHERE tbl = 'requests' ORDER BY idx",
                )
                .load::<Gathered>(*conn)
                .map_err(crate::db::DbError::from),
                crate::db::Conn::Postgres(_) => unreachable!("a SQLite file"),
            })
            .unwrap()
            .into_iter()
            .map(|g| g.idx)
            .collect();
        for index in ["requests_cell", "requests_service_code", "requests_issue"] {
            assert!(
                gathered.iter().any(|g| g == index),
                "{index} in {gathered:?}"
            );
        }
    }

    #[test]
    fn the_same_seed_exports_byte_identical_files() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let files = export(&tiny(5), a.path()).unwrap();
        export(&tiny(5), b.path()).unwrap();
        assert!(files.len() >= 12);
        for name in &files {
            let left = std::fs::read(a.path().join(name)).unwrap();
            let right = std::fs::read(b.path().join(name)).unwrap();
            assert!(left == right, "{name} differs");
        }
        let other = tempfile::tempdir().unwrap();
        export(&tiny(6), other.path()).unwrap();
        assert_ne!(
            std::fs::read(a.path().join("reports.csv")).unwrap(),
            std::fs::read(other.path().join("reports.csv")).unwrap()
        );
    }
}
