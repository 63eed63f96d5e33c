//! Spatial benchmarks at city scale (see scripts/spatial_bench.sh, which runs them all).
//!
//! - `fill DB N`: adds generated reports to the database until it holds N, placed along
//!   random segments with 0–30 m of scatter, as residents' reports are.
//! - `export DB FILE`: writes every located report as `id,lon,lat` CSV (for PostGIS).
//! - `queries DB POSTGIS_URL N`: N random 500 m radius queries in process, through
//!   Upkeep's own path and through PostGIS `ST_DWithin` on the same points, checking
//!   that both find the same reports; then snapping N random points.
//! - `http URL DB N`: N sequential 500 m radius queries over HTTP (p50, p99), and
//!   GeoJSON for a bounding box holding about 10,000 segments.
//!
//! Every mode prints what it measured; the script copies it into BENCHMARKS.md.

use backend::config::DatabaseUrl;
use backend::db::Database;
use backend::db::requests::{self, NewRequest, RequestFilter};
use backend::db::schema;
use backend::domain::{Circle, Coordinates, now};
use backend::search::{Area, Order, Source, Window, page_of};
use backend::spatial::SegmentIndex;
use diesel::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

const RADIUS_M: f64 = 500.0;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["fill", db, n] => fill(&open(db)?, n.parse()?),
        ["export", db, file] => export(&open(db)?, file),
        ["queries", db, postgis, n] => queries(&open(db)?, postgis, n.parse()?, None),
        ["queries", db, postgis, n, upkeep_pg] => {
            queries(&open(db)?, postgis, n.parse()?, Some(&open(upkeep_pg)?))
        }
        ["http", url, db, n] => http(url, &open(db)?, n.parse()?),
        _ => anyhow::bail!(
            "usage: spatial_bench fill DB N | export DB FILE | queries DB POSTGIS_URL N [UPKEEP_PG_URL] | http URL DB N"
        ),
    }
}

fn open(url: &str) -> anyhow::Result<Database> {
    let url = DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?;
    Ok(Database::open(&url, 4)?)
}

/// A segment's id and its (first) line, longitude first.
type SegmentLine = (i64, Vec<(f64, f64)>);

/// Every segment's line, for placing points and snapping.
fn segment_lines(db: &Database) -> anyhow::Result<Vec<SegmentLine>> {
    Ok(db
        .read(backend::db::segments::shapes)?
        .into_iter()
        .filter_map(|s| Some((s.id, s.lines.into_iter().next()?)))
        .collect())
}

/// A point near a random segment: somewhere along it, then up to 30 m off.
fn point_near(
    rng: &mut ChaCha8Rng,
    lines: &[(i64, Vec<(f64, f64)>)],
    scatter_m: f64,
) -> Coordinates {
    let (_, line) = &lines[rng.gen_range(0..lines.len())];
    let i = rng.gen_range(0..line.len() - 1);
    let t: f64 = rng.r#gen();
    let (a, b) = (line[i], line[i + 1]);
    let lat = a.1 + t * (b.1 - a.1) + rng.gen_range(-scatter_m..=scatter_m) / 111_195.0;
    let lon = a.0
        + t * (b.0 - a.0)
        + rng.gen_range(-scatter_m..=scatter_m) / (111_195.0 * lat.to_radians().cos());
    Coordinates { lon, lat }
}

fn count_reports(db: &Database) -> anyhow::Result<i64> {
    Ok(db.read(|conn| requests::count(conn, &RequestFilter::default()))?)
}

fn fill(db: &Database, target: i64) -> anyhow::Result<()> {
    let have = count_reports(db)?;
    let lines = segment_lines(db)?;
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let codes = [
        "pothole",
        "pothole",
        "pothole",
        "street_light_out",
        "blocked_drain",
        "graffiti",
    ];
    use backend::domain::RequestStatus;
    let statuses = [
        RequestStatus::Open,
        RequestStatus::Acknowledged,
        RequestStatus::Fixed,
        RequestStatus::Closed,
    ];
    let started = Instant::now();
    let mut added = 0;
    let today = now();
    while have + added < target {
        let batch: Vec<NewRequest> = (0..(target - have - added).min(1000))
            .map(|_| {
                let p = point_near(&mut rng, &lines, 30.0);
                let at = today - chrono::Duration::minutes(rng.gen_range(0..3 * 365 * 24 * 60));
                NewRequest {
                    description: Some("generated for the spatial benchmark".into()),
                    lat: Some(p.lat),
                    lon: Some(p.lon),
                    cell: Some(backend::grid::cell_of(p)),
                    ..NewRequest::accepted(
                        codes[rng.gen_range(0..codes.len())],
                        statuses[rng.gen_range(0..statuses.len())],
                        at,
                    )
                }
            })
            .collect();
        added += batch.len() as i64;
        match db {
            Database::Sqlite { writer, .. } => {
                diesel::insert_into(schema::requests::table)
                    .values(&batch)
                    .execute(&mut writer.get()?)?;
            }
            Database::Postgres { pool, .. } => {
                diesel::insert_into(schema::requests::table)
                    .values(&batch)
                    .execute(&mut pool.get()?)?;
            }
        }
    }
    println!(
        "reports: {have} before, {added} generated in {:.1} s, {} now",
        started.elapsed().as_secs_f64(),
        count_reports(db)?
    );
    Ok(())
}

/// Writes every located, accepted report as CSV: id, accepted_at, service_code, status,
/// attributes, lat, lon, requested_at, updated_at, cell (the columns `requests` needs).
fn export(db: &Database, file: &str) -> anyhow::Result<()> {
    let Database::Sqlite { readers, .. } = db else {
        anyhow::bail!("export reads a SQLite database");
    };
    use schema::requests::dsl as r;
    type Row = (
        i64,
        chrono::NaiveDateTime,
        String,
        String,
        Option<f64>,
        Option<f64>,
        Option<i64>,
    );
    let rows: Vec<Row> = r::requests
        .filter(r::accepted_at.is_not_null())
        .select((
            r::id,
            r::requested_at,
            r::service_code,
            r::status,
            r::lat,
            r::lon,
            r::cell,
        ))
        .load(&mut readers.get()?)?;
    let mut out = csv::Writer::from_path(file)?;
    let mut n = 0;
    for (id, at, code, status, lat, lon, cell) in rows {
        if let (Some(lat), Some(lon), Some(cell)) = (lat, lon, cell) {
            let at = at.format("%Y-%m-%d %H:%M:%S").to_string();
            out.write_record([
                id.to_string(),
                at.clone(),
                code,
                status,
                "{}".into(),
                format!("{lat:.9}"),
                format!("{lon:.9}"),
                at.clone(),
                at,
                cell.to_string(),
            ])?;
            n += 1;
        }
    }
    out.flush()?;
    println!("exported {n} located reports to {file}");
    Ok(())
}

fn quantiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let q = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    format!(
        "p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, mean {:.3} ms (n = {})",
        q(0.5).as_secs_f64() * 1e3,
        q(0.9).as_secs_f64() * 1e3,
        q(0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        samples.len()
    )
}

/// Query centres: along the streets (where people ask), fixed by seed.
fn centres(db: &Database, n: usize, seed: u64) -> anyhow::Result<Vec<Coordinates>> {
    let lines = segment_lines(db)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Ok((0..n).map(|_| point_near(&mut rng, &lines, 0.0)).collect())
}

fn queries(
    db: &Database,
    postgis: &str,
    n: usize,
    upkeep_pg: Option<&Database>,
) -> anyhow::Result<()> {
    let points = centres(db, n, 1)?;
    let filter = RequestFilter::default();
    let mut pg = diesel::PgConnection::establish(postgis)?;

    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let postgis_query = "SELECT id FROM bench_reports \
        WHERE ST_DWithin(geog, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, $3, false) \
        ORDER BY ST_Distance(geog, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, false), id";
    let (mut ours, mut page, mut theirs, mut ours_pg) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut hits, mut mismatches) = (0usize, 0usize);
    // One warm-up pass each so both read from memory, as a running server does.
    for (round, centre) in points.iter().chain(points.iter()).enumerate() {
        let circle = Area::Circle(Circle {
            centre: *centre,
            radius_m: RADIUS_M,
        });
        let started = Instant::now();
        let found = circle.search(Window::for_points, Order::Nearest, |w| {
            db.read(|conn| requests::located(conn, &filter, w))
        })?;
        let our_time = started.elapsed();

        let started = Instant::now();
        let first_page = page_of(
            Some(&circle),
            100,
            0,
            Source {
                window_for: Window::for_points,
                located: &|w| db.read(|conn| requests::located(conn, &filter, w)),
                by_ids: &|ids| db.read(|conn| requests::by_ids(conn, ids)),
                // Not read: the listing has an area.
                page: &|_, _| Ok((Vec::new(), 0)),
                id_of: |row| row.id,
            },
        )?;
        let page_time = started.elapsed();

        let started = Instant::now();
        let reference: Vec<Found> = diesel::sql_query(postgis_query)
            .bind::<diesel::sql_types::Double, _>(centre.lon)
            .bind::<diesel::sql_types::Double, _>(centre.lat)
            .bind::<diesel::sql_types::Double, _>(RADIUS_M)
            .load(&mut pg)?;
        let their_time = started.elapsed();
        let mut pg_found = None;
        if let Some(pg_db) = upkeep_pg {
            let started = Instant::now();
            let found = circle.search(Window::for_points, Order::Nearest, |w| {
                pg_db.read(|conn| requests::located(conn, &filter, w))
            })?;
            pg_found = Some(found.len());
            if round >= points.len() {
                ours_pg.push(started.elapsed());
            }
        }
        if round >= points.len() {
            if let Some(count) = pg_found {
                anyhow::ensure!(count == found.len(), "SQLite and PostgreSQL disagree");
            }
            ours.push(our_time);
            page.push(page_time);
            theirs.push(their_time);
            hits += found.len();
            let mut a: Vec<i64> = found.iter().map(|h| h.id).collect();
            let mut b: Vec<i64> = reference.iter().map(|f| f.id).collect();
            a.sort_unstable();
            b.sort_unstable();
            if a != b {
                mismatches += 1;
            }
            assert_eq!(first_page.total, found.len());
        }
    }
    println!(
        "500 m radius, {n} random centres along the streets, mean {:.0} reports found",
        hits as f64 / n as f64
    );
    println!(
        "  Upkeep in process (SQLite, grid cells, every hit, nearest first): {}",
        quantiles(ours)
    );
    println!(
        "  Upkeep in process, the HTTP handler's work (first page of 100 rows and the total): {}",
        quantiles(page)
    );
    println!(
        "  PostGIS ST_DWithin (geography, GiST, same points, every hit, nearest first): {}",
        quantiles(theirs)
    );
    if !ours_pg.is_empty() {
        println!(
            "  Upkeep in process on PostgreSQL (same grid-cell query, same server as PostGIS): {}",
            quantiles(ours_pg)
        );
    }
    println!("  queries where Upkeep and PostGIS found different reports: {mismatches} of {n}");

    // Snapping.
    let shapes = db.read(backend::db::segments::shapes)?;
    let segments = shapes.len();
    let started = Instant::now();
    let index = SegmentIndex::new(shapes);
    let built = started.elapsed();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let lines = segment_lines(db)?;
    let snap_points: Vec<Coordinates> = (0..200_000)
        .map(|_| point_near(&mut rng, &lines, 40.0))
        .collect();
    let started = Instant::now();
    let mut snapped = 0;
    for p in &snap_points {
        snapped += usize::from(index.snap(*p, 50.0).is_some());
    }
    let elapsed = started.elapsed();
    println!(
        "snapping: {segments} segments indexed in {:.2} s; {} points snapped in {:.1} ms = {:.2} µs per point ({snapped} within 50 m)",
        built.as_secs_f64(),
        snap_points.len(),
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / snap_points.len() as f64
    );
    Ok(())
}

fn http(url: &str, db: &Database, n: usize) -> anyhow::Result<()> {
    let points = centres(db, n, 2)?;
    // A box around the city's centre holding about 10,000 segments.
    let all = segment_lines(db)?;
    let (sum_lon, sum_lat) = all
        .iter()
        .fold((0.0, 0.0), |(x, y), (_, l)| (x + l[0].0, y + l[0].1));
    let centre = Coordinates {
        lon: sum_lon / all.len() as f64,
        lat: sum_lat / all.len() as f64,
    };
    let mut half = 0.01;
    let inside = |half: f64| {
        all.iter()
            .filter(|(_, l)| {
                (l[0].0 - centre.lon).abs() <= half * 1.37 && (l[0].1 - centre.lat).abs() <= half
            })
            .count()
    };
    while inside(half) < 10_000 {
        half *= 1.05;
    }
    let bbox = format!(
        "{},{},{},{}",
        centre.lon - half * 1.37,
        centre.lat - half,
        centre.lon + half * 1.37,
        centre.lat + half
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut latencies = Vec::new();
        let mut found = 0u64;
        for (round, p) in points.iter().chain(points.iter()).enumerate() {
            let started = Instant::now();
            let response = client
                .get(format!(
                    "{url}/api/v1/reports?lat={}&lon={}&radius_m={RADIUS_M}",
                    p.lat, p.lon
                ))
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "status {}", response.status());
            let body = response.bytes().await?;
            if round >= points.len() {
                latencies.push(started.elapsed());
                let value: serde_json::Value = serde_json::from_slice(&body)?;
                found += value["total"].as_u64().unwrap_or(0);
            }
        }
        println!(
            "HTTP 500 m radius (first page of 100, sequential, mean {:.0} found): {}",
            found as f64 / n as f64,
            quantiles(latencies)
        );
        let mut times = Vec::new();
        let mut size = 0;
        let mut features = 0;
        for round in 0..12 {
            let started = Instant::now();
            let response = client
                .get(format!(
                    "{url}/api/v1/segments?bbox={bbox}&format=geojson&page_size=10000"
                ))
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "status {}", response.status());
            let body = response.bytes().await?;
            if round >= 2 {
                times.push(started.elapsed());
            }
            size = body.len();
            let value: serde_json::Value = serde_json::from_slice(&body)?;
            features = value["features"].as_array().map_or(0, Vec::len);
        }
        println!(
            "HTTP GeoJSON of a bounding box ({bbox}) with {features} segments, {:.1} MB: {}",
            size as f64 / 1e6,
            quantiles(times)
        );
        Ok(())
    })
}
