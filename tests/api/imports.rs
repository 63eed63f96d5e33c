//! Importing a city's history through mapping files, on either backend: past reports,
//! repairs, ratings, sensor readings, weather and street attributes.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use backend::import::mapping::Mapping;
use backend::import::{self, NamedFile, Summary};
use std::path::{Path, PathBuf};

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/real")
        .join(path)
}

fn mapping_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/mappings")
        .join(name)
}

/// Imports `files` into the test server's database as `upkeep import KIND` does, with
/// the shipped mapping `mapping` (or a path to another).
fn import(app: &TestApp, mapping: &str, files: &[PathBuf]) -> Summary {
    try_import(app, mapping, files, false).expect("the import runs")
}

fn try_import(
    app: &TestApp,
    mapping: &str,
    files: &[PathBuf],
    dry_run: bool,
) -> Result<Summary, import::ImportError> {
    let (services, changed_at) = app
        .db
        .read(backend::db::services::active)
        .expect("the catalogue");
    let catalogue = backend::catalogue::Catalogue {
        services,
        changed_at,
    };
    let path = if mapping.contains('/') {
        PathBuf::from(mapping)
    } else {
        mapping_file(mapping)
    };
    let mapping = Mapping::load(&path, &catalogue).expect("the mapping");
    let index = backend::roads::load_index(&app.db)
        .expect("the segments")
        .current();
    let ctx = import::Context {
        db: &app.db,
        catalogue: &catalogue,
        segments: &index,
        snap_limit_m: 50.0,
        dry_run,
    };
    let files: Vec<NamedFile> = files.iter().map(NamedFile::at).collect();
    import::import(&ctx, &mapping, &files, &mut |_| {})
}

/// Rows of a Houston file, and how many have no usable position, counted here
/// independently of the importer.
fn houston_counts(file: &Path) -> (u64, u64) {
    let mut reader = csv::Reader::from_path(file).unwrap();
    let headers = reader.headers().unwrap().clone();
    let lat = headers.iter().position(|h| h == "LATITUDE").unwrap();
    let lon = headers.iter().position(|h| h == "LONGITUDE").unwrap();
    let unusable = |v: &str| v.trim().is_empty() || v.trim() == "Unknown";
    let (mut rows, mut without) = (0, 0);
    for record in reader.records() {
        let record = record.unwrap();
        rows += 1;
        if unusable(&record[lat]) || unusable(&record[lon]) {
            without += 1;
        }
    }
    (rows, without)
}

#[tokio::test]
async fn houston_reports_import_with_their_own_times_and_a_second_import_adds_nothing() {
    let app = spawn_app().await;
    let file = shared("houston-311-potholes/potholePiped2011.csv");
    let (rows, without_position) = houston_counts(&file);
    assert_eq!(rows, 1_305, "the file as PROVENANCE.md counts it");

    let first = import(&app, "houston-reports.toml", std::slice::from_ref(&file));
    assert_eq!(first.read, rows);
    assert_eq!(first.rejected, 0, "{:?}", first.rejects);
    assert_eq!(first.imported, rows);
    assert_eq!(first.address_only, without_position);
    assert!(
        first.joined_to_issue > 0,
        "nearby reports of one pothole share an issue"
    );
    assert_eq!(app.count_rows("requests"), rows as i64);
    assert_eq!(app.count_rows("request_sources"), rows as i64);
    // Every located report is in exactly one issue; the issues are all closed, as the
    // city closed every 2011 request.
    assert_eq!(
        app.count_rows("issues"),
        (rows - without_position - first.joined_to_issue) as i64
    );
    assert_eq!(
        app.query_number("SELECT COUNT(*) AS n FROM issues WHERE closed_at IS NULL"),
        0
    );

    // The file's first row was made 2011-09-11 07:55:04 Houston time (CDT, UTC-5); it
    // has no position, and Open311 lists it all the same, at its own time.
    let id = app.query_number(
        "SELECT request_id AS n FROM request_sources WHERE external_id = '1100265925-101000386239'",
    );
    let report = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    assert_eq!(report[0]["requested_datetime"], "2011-09-11T12:55:04Z");
    assert_eq!(report[0]["status"], "closed");
    assert_eq!(report[0]["service_code"], "pothole");
    // A change feed over 2011 finds it by its own dates, not the day of the import.
    let feed = app
        .get_json(
            "/open311/v2/requests.json?updated_after=2011-09-11T00:00:00Z&updated_before=2011-09-30T00:00:00Z",
            200,
        )
        .await;
    let ids: Vec<&str> = feed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id.to_string().as_str()), "{feed}");
    let today = app
        .get_json(
            "/open311/v2/requests.json?updated_after=2026-01-01T00:00:00Z",
            200,
        )
        .await;
    let id_text = id.to_string();
    assert!(
        today
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["service_request_id"] != id_text.as_str()),
        "an imported report is not news"
    );

    let again = import(&app, "houston-reports.toml", &[file]);
    assert_eq!(again.imported, 0);
    assert_eq!(again.updated, 0);
    assert_eq!(again.already_present, rows);
    assert_eq!(app.count_rows("requests"), rows as i64, "nothing was added");
}

#[tokio::test]
async fn a_file_of_broken_rows_imports_its_good_rows_and_names_each_bad_one_by_line() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.csv");
    // A byte-order mark, CRLF line ends and quoted commas, as spreadsheet exports have.
    let rows = [
        "\u{feff}CASE NUMBER,SR LOCATION,SR TYPE,STATUS,SR CREATE DATE,DATE CLOSED,Title,LATITUDE,LONGITUDE,Channel Type",
        "A-1,\"100 MAIN ST, HOUSTON TX\",Pothole,Closed,2015-03-01 10:00:00,2015-03-02 09:00:00,Pothole,29.76,-95.36,WEB",
        "A-2,200 MAIN ST,Pothole,Open,2015-13-01 10:00:00,,Pothole,29.77,-95.37,WEB",
        "A-3,300 MAIN ST,Pothole,Open,2015-03-01 11:00:00,,Pothole,91,-95.37,WEB",
        "A-4,400 MAIN ST,Pothole,Teleported,2015-03-01 12:00:00,,Pothole,29.78,-95.38,WEB",
        ",500 MAIN ST,Pothole,Open,2015-03-01 13:00:00,,Pothole,29.79,-95.39,WEB",
        "A-6,600 \"MAIN\" ST,Pothole,Open,2015-03-01 14:00:00,,Pothole,29.80,-95.40",
        "A-7,Intersection 700 MAIN ST & ELM ST,Pothole,Open,2015-03-01 15:00:00,,Pothole,Unknown,Unknown,Voice In",
        "A-8,800 MAIN ST,Pothole,Open,2015-03-01 16:00:00,,Pot\u{1b}hole,29.81,-95.41,WEB",
    ];
    std::fs::write(&file, rows.join("\r\n") + "\r\n").unwrap();

    let summary = import(&app, "houston-reports.toml", std::slice::from_ref(&file));
    assert_eq!(summary.read, 8);
    assert_eq!(summary.imported, 2, "{:?}", summary.rejects);
    assert_eq!(
        summary.address_only, 1,
        "the intersection without a position"
    );
    assert_eq!(
        summary.address_only_ids,
        ["A-7"],
        "listed by the source's id"
    );
    assert_eq!(summary.rejected, 6);
    let named: Vec<(u64, &str)> = summary
        .rejects
        .iter()
        .map(|r| (r.line, r.field.as_str()))
        .collect();
    assert_eq!(
        named,
        vec![
            (3, "SR CREATE DATE"),
            (4, "LATITUDE"),
            (5, "STATUS"),
            (6, "CASE NUMBER"),
            (7, "row"),
            (9, "Title"),
        ]
    );
    assert!(
        summary.rejects[5].reason.contains("U+001B"),
        "{:?}",
        summary.rejects[5]
    );
    assert!(
        summary.rejects[1].reason.contains("91"),
        "{:?}",
        summary.rejects[1]
    );
    assert!(summary.rejects[2].reason.contains("Teleported"));
    let address = app.query_number(
        "SELECT COUNT(*) AS n FROM requests WHERE address = '100 MAIN ST, HOUSTON TX'",
    );
    assert_eq!(address, 1, "a quoted comma stays inside its field");
}

#[tokio::test]
async fn another_city_imports_through_the_same_path_with_only_its_own_mapping_file() {
    let app = spawn_app().await;
    let file = shared("chicago-311-potholes-sample/pot_holes_reported_historical_sample.csv");
    let summary = import(&app, "chicago-reports.toml", std::slice::from_ref(&file));
    // PROVENANCE.md: 1,000 rows; Open 529, Open - Dup 287, Completed 124, Completed -
    // Dup 60; one row without coordinates.
    assert_eq!(summary.read, 1_000);
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejects);
    assert_eq!(summary.imported, 1_000);
    assert_eq!(summary.address_only, 1);
    let count = |status: &str| {
        app.query_number(&format!(
            "SELECT COUNT(*) AS n FROM requests WHERE status = '{status}'"
        ))
    };
    assert_eq!(count("open"), 529);
    assert_eq!(count("fixed"), 124);
    assert_eq!(count("closed"), 287 + 60, "the city's duplicates, closed");
    // Chicago's and Houston's ids never meet: each source has its own.
    assert_eq!(
        app.query_number("SELECT COUNT(*) AS n FROM request_sources WHERE source = 'chicago-311'"),
        1_000
    );
}

/// POSTs a mapping and files to `/api/v1/imports/{kind}` with `key`.
async fn post_import(
    app: &TestApp,
    key: Option<&str>,
    kind_and_query: &str,
    mapping: &str,
    files: &[(&str, Vec<u8>)],
) -> (u16, serde_json::Value) {
    let mut form = reqwest::multipart::Form::new().text("mapping", mapping.to_owned());
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name((*name).to_owned()),
        );
    }
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/imports/{kind_and_query}")))
        .multipart(form);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn planners_import_past_reports_over_http_and_others_may_not() {
    let app = spawn_app().await;
    let mapping = std::fs::read_to_string(mapping_file("houston-reports.toml")).unwrap();
    let csv = std::fs::read(shared("houston-311-potholes/potholePiped2011.csv")).unwrap();
    let files = [("potholePiped2011.csv", csv)];

    let (status, _) = post_import(&app, None, "reports", &mapping, &files).await;
    assert_eq!(status, 401, "anonymous callers import nothing");
    let client = app.issue_key(backend::domain::Role::Client);
    let (status, _) = post_import(&app, Some(&client), "reports", &mapping, &files).await;
    assert_eq!(status, 403, "nor do Open311 client keys");
    assert_eq!(app.count_rows("requests"), 0);

    let planner = app.issue_key(backend::domain::Role::Planner);
    let (status, checked) = post_import(
        &app,
        Some(&planner),
        "reports?dry_run=true",
        &mapping,
        &files,
    )
    .await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["imported"], 1_305);
    assert_eq!(app.count_rows("requests"), 0, "a dry run stores nothing");
    let (status, stored) = post_import(&app, Some(&planner), "reports", &mapping, &files).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["imported"], 1_305);
    assert_eq!(stored["rejected"], 0);
    assert_eq!(app.count_rows("requests"), 1_305);

    // A mapping naming things that do not exist is refused before any row is read.
    let wrong = mapping.replace("\"pothole\"", "\"unicorn\"");
    let (status, refused) = post_import(&app, Some(&planner), "reports", &wrong, &files).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("unicorn"),
        "{refused}"
    );

    // A file with no good row: 422, with each row's line and reason.
    let broken = b"CASE NUMBER,SR LOCATION,SR TYPE,STATUS,SR CREATE DATE,DATE CLOSED,Title,LATITUDE,LONGITUDE,Channel Type\nX-1,1 ELM ST,Pothole,Open,not a time,,Pothole,29.7,-95.3,WEB\n".to_vec();
    let (status, body) = post_import(
        &app,
        Some(&planner),
        "reports",
        &mapping,
        &[("broken.csv", broken)],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "nothing_imported");
    assert_eq!(body["rejects"][0]["file"], "broken.csv");
    assert_eq!(body["rejects"][0]["line"], 2);
    assert_eq!(body["rejects"][0]["field"], "SR CREATE DATE");
}

/// Loads Syracuse's street centreline as `upkeep segments import` does.
fn import_syracuse_streets(app: &TestApp) -> usize {
    let options = std::collections::HashMap::from([
        ("id_field", "STREET_ID"),
        ("name_field", "STREET"),
        ("class_field", "CART_CLASS"),
        (
            "class_map",
            "MAJOR=arterial,MINOR=local,INTERSTATE=arterial",
        ),
    ]);
    let mapping = backend::roads::Mapping::from_options(|name| options.get(name).copied())
        .expect("the street mapping");
    let text = std::fs::read_to_string(shared(
        "syracuse/roads-challenge/derived/streets_wgs84.geojson",
    ))
    .unwrap();
    let streets =
        backend::roads::read(&text, &mapping, &Default::default(), backend::domain::now())
            .expect("the streets read");
    app.db
        .write(|conn| backend::db::segments::insert(conn, &streets.segments))
        .expect("the streets are stored")
        .len()
}

/// A CSV file's data rows, and the distinct values of one column, counted here
/// independently of the importers.
fn rows_and_values(file: &Path, column: &str) -> (u64, std::collections::BTreeSet<String>) {
    let mut reader = csv::Reader::from_path(file).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = headers
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == column)
        .unwrap();
    let mut rows = 0;
    let mut values = std::collections::BTreeSet::new();
    for record in reader.records() {
        rows += 1;
        values.insert(record.unwrap()[at].trim().to_owned());
    }
    (rows, values)
}

fn assert_nothing_new(again: &Summary, first: &Summary) {
    assert_eq!(again.imported, 0, "{again:?}");
    assert_eq!(again.updated, 0, "{again:?}");
    assert_eq!(again.derived, 0, "{again:?}");
    assert_eq!(again.already_present, first.good(), "{again:?}");
    assert_eq!(again.rejected, first.rejected);
}

#[tokio::test]
async fn syracuse_ratings_fills_breaks_and_street_attributes_import_with_their_shipped_mappings() {
    let app = spawn_app().await;
    let segments = import_syracuse_streets(&app);
    assert!(segments >= 6_825, "every street, some cut into pieces");

    // Ratings, 2000–2015: each file's rows are read; the repeats of the year before
    // are already present, and a second import adds nothing.
    let ratings: Vec<PathBuf> = (2000..=2015)
        .map(|y| {
            shared(&format!(
                "syracuse/roads-challenge/road_ratings/RoadRatings{y}.csv"
            ))
        })
        .collect();
    let rows: u64 = ratings
        .iter()
        .map(|f| rows_and_values(f, "streetID").0)
        .sum();
    let first = import(&app, "syracuse-ratings.toml", &ratings);
    assert_eq!(first.read, rows);
    assert_eq!(first.good() + first.rejected, rows);
    assert!(
        first.rejected * 20 < rows,
        "under 5 % of the survey is unreadable: {}",
        first.rejected
    );
    assert!(first.already_present > 0, "yearly files repeat ratings");
    assert!(
        first.derived > 0,
        "last-overlay years become dated resurfacing events"
    );
    let stored_overlays = app.query_number(
        "SELECT COUNT(*) AS n FROM maintenance_history WHERE kind = 'resurfacing' AND source = 'syracuse-ratings'",
    );
    assert_eq!(stored_overlays, first.derived as i64);
    // An overlay of 1988 is dated on 1988's last day, and nothing after the rating.
    assert_eq!(
        app.query_number(
            "SELECT COUNT(*) AS n FROM maintenance_history WHERE external_id = 'overlay:1988' AND performed_at <> '1988-12-31 00:00:00'"
        ),
        0
    );
    assert_nothing_new(&import(&app, "syracuse-ratings.toml", &ratings), &first);

    // The 2016 fills: every one lands on a piece of its own STREET_ID.
    let fills = shared("syracuse/roads-challenge/derived/potholes_filled_2016_clean.csv");
    let (fill_rows, fill_streets) = rows_and_values(&fills, "street_id");
    let first = import(&app, "syracuse-repairs.toml", std::slice::from_ref(&fills));
    assert_eq!(first.read, fill_rows);
    assert_eq!(first.imported, 7_538, "{:?}", first.rejects.first());
    assert_eq!(
        app.query_number(
            "SELECT COUNT(*) AS n FROM maintenance_history WHERE kind = 'pothole_repair'"
        ),
        7_538
    );
    assert_eq!(
        app.query_number(
            "SELECT COUNT(DISTINCT s.external_id) AS n FROM maintenance_history m JOIN segments s ON s.id = m.segment_id WHERE m.kind = 'pothole_repair'"
        ),
        fill_streets.len() as i64
    );
    assert_nothing_new(
        &import(&app, "syracuse-repairs.toml", std::slice::from_ref(&fills)),
        &first,
    );

    // Water-main breaks: events of their own kind; rows without a time or at (0, 0)
    // are named.
    let breaks = shared("syracuse/water-main-breaks/Water_Main_Breaks.csv");
    let (break_rows, _) = rows_and_values(&breaks, "ObjectId");
    let first = import(
        &app,
        "syracuse-water-main-breaks.toml",
        std::slice::from_ref(&breaks),
    );
    assert_eq!(first.read, break_rows);
    assert_eq!(first.good() + first.rejected, break_rows);
    assert!(first.imported > 2_950, "{first:?}");
    assert!(
        first
            .rejects
            .iter()
            .all(|r| r.field == "fullDate" || r.field == "lat"),
        "{:?}",
        first.rejects
    );
    assert_eq!(
        app.query_number(
            "SELECT COUNT(*) AS n FROM maintenance_history WHERE kind = 'water_main_break'"
        ),
        first.imported as i64
    );
    assert_nothing_new(
        &import(
            &app,
            "syracuse-water-main-breaks.toml",
            std::slice::from_ref(&breaks),
        ),
        &first,
    );

    // Street attributes: the last overlay joins by STREET_ID.
    let roads = shared("syracuse/roads-challenge/roads.csv");
    let first = import(
        &app,
        "syracuse-segment-attributes.toml",
        std::slice::from_ref(&roads),
    );
    assert_eq!(first.read, rows_and_values(&roads, "STREET_ID").0);
    assert!(first.updated > 1_000, "{first:?}");
    assert_nothing_new(
        &import(
            &app,
            "syracuse-segment-attributes.toml",
            std::slice::from_ref(&roads),
        ),
        &first,
    );
}

#[tokio::test]
async fn kitchener_segments_are_made_from_their_ends_and_its_breaks_join_them_by_id() {
    let app = spawn_app().await;
    let roads = shared("kitchener-water/derived/road_segments_lonlat.csv");
    // Counted here: rows without ends, and rows whose ends are one point (loops).
    let mut reader = csv::Reader::from_path(&roads).unwrap();
    let (mut rows, mut unplaceable) = (0, 0);
    for record in reader.deserialize::<std::collections::HashMap<String, String>>() {
        let r = record.unwrap();
        rows += 1;
        if r["start_lon"].is_empty()
            || (r["start_lon"] == r["end_lon"] && r["start_lat"] == r["end_lat"])
        {
            unplaceable += 1;
        }
    }
    let first = import(
        &app,
        "kitchener-segment-attributes.toml",
        std::slice::from_ref(&roads),
    );
    assert_eq!(first.read, rows);
    assert_eq!(first.rejected, unplaceable, "{:?}", first.rejects.first());
    assert_eq!(first.imported, rows - unplaceable);
    assert_eq!(
        app.query_number("SELECT COUNT(DISTINCT external_id) AS n FROM segments"),
        (rows - unplaceable) as i64
    );
    assert_eq!(
        app.query_number(
            "SELECT COUNT(*) AS n FROM segments WHERE external_id = '23084' AND aadt = 15589 AND road_class = 'arterial' AND bus_route"
        ),
        app.query_number("SELECT COUNT(*) AS n FROM segments WHERE external_id = '23084'"),
        "Fairway Rd N: AADT 15,589, an arterial bus route"
    );
    assert_nothing_new(
        &import(
            &app,
            "kitchener-segment-attributes.toml",
            std::slice::from_ref(&roads),
        ),
        &first,
    );

    let breaks = shared("kitchener-water/derived/water_main_breaks_lonlat.csv");
    let (break_rows, _) = rows_and_values(&breaks, "break_incident_id");
    let first = import(
        &app,
        "kitchener-water-main-breaks.toml",
        std::slice::from_ref(&breaks),
    );
    assert_eq!(first.read, break_rows);
    assert!(first.imported > 2_800, "{first:?}");
    assert_eq!(
        app.query_number(
            "SELECT COUNT(*) AS n FROM maintenance_history WHERE kind IN ('water_main_break', 'water_service_break')"
        ),
        first.imported as i64
    );
    assert_nothing_new(
        &import(
            &app,
            "kitchener-water-main-breaks.toml",
            std::slice::from_ref(&breaks),
        ),
        &first,
    );
}

/// Every Open311 list field that belongs to the report itself (ids and the SLA-derived
/// `expected_datetime` are the server's own), in a stable order.
fn report_fields(list: &serde_json::Value) -> Vec<serde_json::Value> {
    let fields = [
        "service_code",
        "service_name",
        "status",
        "description",
        "agency_responsible",
        "requested_datetime",
        "updated_datetime",
        "address",
        "lat",
        "long",
    ];
    let mut rows: Vec<serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::Value::Object(
                fields
                    .iter()
                    .map(|f| ((*f).to_owned(), r[*f].clone()))
                    .collect(),
            )
        })
        .collect();
    rows.sort_by_key(|r| r.to_string());
    rows
}

#[tokio::test]
async fn upkeeps_own_open311_json_and_xml_round_trip_into_an_empty_database() {
    let demo = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
        s.max_page_size = 100_000;
    })
    .await;
    let window = "?page_size=100000";
    let exported = demo
        .get_json(&format!("/open311/v2/requests.json{window}"), 200)
        .await;
    assert!(exported.as_array().unwrap().len() > 20, "{exported}");
    let xml = demo
        .get_text(&format!("/open311/v2/requests.xml{window}"), 200)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let json_file = dir.path().join("requests.json");
    let xml_file = dir.path().join("requests.xml");
    std::fs::write(&json_file, exported.to_string()).unwrap();
    std::fs::write(&xml_file, xml).unwrap();

    for (mapping, file) in [
        ("open311-json-reports.toml", &json_file),
        ("open311-xml-reports.toml", &xml_file),
    ] {
        let empty = spawn_app_with(|s| s.max_page_size = 100_000).await;
        let summary = import(&empty, mapping, std::slice::from_ref(file));
        assert_eq!(summary.rejected, 0, "{mapping}: {:?}", summary.rejects);
        assert_eq!(
            summary.imported as usize,
            exported.as_array().unwrap().len()
        );
        let imported = empty
            .get_json(&format!("/open311/v2/requests.json{window}"), 200)
            .await;
        assert_eq!(
            report_fields(&imported),
            report_fields(&exported),
            "{mapping}: every report, field by field"
        );
    }
}

#[tokio::test]
async fn socrata_json_with_nested_locations_imports_as_its_csv_does() {
    let app = spawn_app().await;
    let csv_file = shared("chicago-311-potholes-sample/pot_holes_reported_historical_sample.csv");
    // The same rows as the SODA API writes them: empty cells left out, the position
    // in a nested `location` object.
    let mut reader = csv::Reader::from_path(&csv_file).unwrap();
    let mut objects = Vec::new();
    for record in reader.deserialize::<std::collections::BTreeMap<String, String>>() {
        let mut row = record.unwrap();
        let (lat, lon) = (row.remove("latitude"), row.remove("longitude"));
        row.remove("location");
        let mut object: serde_json::Map<String, serde_json::Value> = row
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        if let (Some(lat), Some(lon)) = (lat.filter(|v| !v.is_empty()), lon) {
            object.insert(
                "location".into(),
                serde_json::json!({"latitude": lat, "longitude": lon, "human_address": "{\"address\": \"\"}"}),
            );
        }
        objects.push(serde_json::Value::Object(object));
    }
    let dir = tempfile::tempdir().unwrap();
    let json_file = dir.path().join("7as2-ds3y.json");
    std::fs::write(&json_file, serde_json::to_string(&objects).unwrap()).unwrap();

    let summary = import(
        &app,
        "chicago-socrata-reports.toml",
        std::slice::from_ref(&json_file),
    );
    assert_eq!(summary.read, 1_000);
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejects);
    assert_eq!(summary.address_only, 1);
    // The CSV of the same source finds every one already there.
    let again = import(
        &app,
        "chicago-reports.toml",
        std::slice::from_ref(&csv_file),
    );
    assert_eq!(again.already_present, 1_000, "{again:?}");
}

#[tokio::test]
async fn sensor_readings_and_a_weather_series_import_and_a_second_import_adds_nothing() {
    let app = spawn_app().await;
    import_syracuse_streets(&app);
    let dir = tempfile::tempdir().unwrap();
    let readings = dir.path().join("probe.csv");
    std::fs::write(
        &readings,
        "time;street;lat;lon;iri;vehicle\n\
         2016-05-01 08:00;13001865;;;3.4;truck-7\n\
         2016-05-01 08:01;;43.0552769;-76.1062502;4.1;truck-7\n\
         2016-05-01 08:02;;43.2;-76.5;2.0;truck-7\n\
         2016-05-01 08:03;13001865;;;-1;truck-7\n",
    )
    .unwrap();
    let mapping = dir.path().join("sensors.toml");
    std::fs::write(
        &mapping,
        "kind = \"sensors\"\nsource = \"probe\"\ndelimiter = \";\"\ntime_format = \"%Y-%m-%d %H:%M\"\ntime_zone = \"America/New_York\"\n[columns]\nobserved = \"time\"\nvalue = \"iri\"\nsegment = \"street\"\nlat = \"lat\"\nlon = \"lon\"\ndevice = \"vehicle\"\n",
    )
    .unwrap();
    let mapping = mapping.to_str().unwrap().to_owned();
    let first = import(&app, &mapping, std::slice::from_ref(&readings));
    assert_eq!((first.imported, first.rejected), (2, 2), "{first:?}");
    let fields: Vec<&str> = first.rejects.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["lat", "iri"], "far from every street; below zero");
    assert_eq!(
        app.query_number(
            "SELECT COUNT(*) AS n FROM sensor_readings WHERE source = 'truck-7' AND kind = 'roughness_iri_m_per_km' AND observed_at = '2016-05-01 12:00:00'"
        ),
        1,
        "08:00 in Syracuse (EDT) is 12:00 UTC"
    );
    assert_nothing_new(
        &import(&app, &mapping, std::slice::from_ref(&readings)),
        &first,
    );

    // GHCN-Daily raw values are tenths: the mapping scales them.
    let weather = dir.path().join("USW00014771.csv");
    std::fs::write(
        &weather,
        "STATION,DATE,PRCP,TMAX,TMIN\n\
         USW00014771,2016-01-01,0,-11,-72\n\
         USW00014771,2016-01-02,25,3,-28\n\
         USW00014771,2016-01-03,,3,-28\n\
         USW00014771,2016-01-04,0,-50,-10\n",
    )
    .unwrap();
    let tenths = dir.path().join("weather.toml");
    std::fs::write(
        &tenths,
        std::fs::read_to_string(mapping_file("ghcn-daily-weather.toml")).unwrap()
            + "\n[scale]\ntmin = 0.1\ntmax = 0.1\nprcp = 0.1\n",
    )
    .unwrap();
    let tenths = tenths.to_str().unwrap().to_owned();
    let first = import(&app, &tenths, std::slice::from_ref(&weather));
    assert_eq!((first.imported, first.rejected), (2, 2), "{first:?}");
    let fields: Vec<&str> = first.rejects.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(
        fields,
        ["PRCP", "TMIN"],
        "no rain figure; a minimum above the maximum"
    );
    assert_eq!(
        app.query_number(
            "SELECT COUNT(*) AS n FROM weather_daily WHERE station = 'USW00014771' AND day = '2016-01-02' AND tmin_c = -2.8 AND precipitation_mm = 2.5"
        ),
        1
    );
    assert_nothing_new(
        &import(&app, &tenths, std::slice::from_ref(&weather)),
        &first,
    );
}

#[tokio::test]
async fn an_import_over_http_must_use_a_mapping_of_its_own_kind() {
    let app = spawn_app().await;
    let planner = app.issue_key(backend::domain::Role::Planner);
    let mapping = std::fs::read_to_string(mapping_file("syracuse-ratings.toml")).unwrap();
    let file = [("r.csv", b"streetID,dateRated\n".to_vec())];
    let (status, body) = post_import(&app, Some(&planner), "reports", &mapping, &file).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("the mapping is for ratings"),
        "{body}"
    );
    let (status, body) = post_import(&app, Some(&planner), "unicorns", &mapping, &file).await;
    assert_eq!(status, 404, "{body}");
    // A dry run over HTTP checks ratings as the CLI does: with no streets, no rating
    // has its segment, and the answer says so by line.
    let file = [(
        "r.csv",
        b"block,streetName,streetType,streetDirection,overall,crack,patch,length,width,dateRated,dateLastOverlay,flushOil,class,pavement,streetID\n100,A,ST,,8,4,4,530,22,12/98,1988,,Local,3,12581174\n"
            .to_vec(),
    )];
    let (status, body) = post_import(
        &app,
        Some(&planner),
        "ratings?dry_run=true",
        &mapping,
        &file,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["rejects"][0]["field"], "streetID");
    assert_eq!(body["rejects"][0]["line"], 2);
}

#[tokio::test]
async fn the_quality_report_shows_completeness_positions_and_gaps_per_source() {
    let app = spawn_app().await;
    let file = shared("chicago-311-potholes-sample/pot_holes_reported_historical_sample.csv");
    import(&app, "chicago-reports.toml", std::slice::from_ref(&file));
    // Counted here from the file: rows with a completion date.
    let mut reader = csv::Reader::from_path(&file).unwrap();
    let completed = reader
        .deserialize::<std::collections::HashMap<String, String>>()
        .filter(|r| !r.as_ref().unwrap()["completion_date"].is_empty())
        .count() as u64;

    let planner = app.issue_key(backend::domain::Role::Planner);
    let client = app.issue_key(backend::domain::Role::Client);
    let refused = app
        .client
        .get(app.url("/api/v1/imports/quality"))
        .bearer_auth(&client)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "only planners and admins see it");
    let report: serde_json::Value = app
        .client
        .get(app.url("/api/v1/imports/quality/chicago-311"))
        .bearer_auth(&planner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["rows_read"], 1_000);
    assert_eq!(report["records"], 1_000);
    assert_eq!(report["without_position"], 1);
    let column = |name: &str| {
        report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {report}"))
    };
    assert_eq!(column("completion_date")["filled"], completed);
    assert_eq!(column("service_request_number")["share"], 1.0);
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains("1 records have no position")),
        "{report}"
    );

    // A repair log with a month missing: the month is flagged.
    import_syracuse_streets(&app);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fills.csv");
    let mut text = String::from("street,done\n");
    for month in [1, 2, 3, 5, 6, 7] {
        for day in 1..=20 {
            text += &format!("13001865,2016-{month:02}-{day:02}\n");
        }
    }
    std::fs::write(&log, text).unwrap();
    let mapping = dir.path().join("fills.toml");
    std::fs::write(
        &mapping,
        "kind = \"repairs\"\nsource = \"fills\"\ntime_format = \"%Y-%m-%d\"\ntime_zone = \"America/New_York\"\ndefault_kind = \"pothole_repair\"\n[columns]\nsegment = \"street\"\nperformed = \"done\"\n",
    )
    .unwrap();
    import(&app, mapping.to_str().unwrap(), &[log]);
    let report = app
        .client
        .get(app.url("/api/v1/imports/quality"))
        .bearer_auth(&planner)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let fills = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["source"] == "fills")
        .unwrap();
    let gaps: Vec<&str> = fills["by_month"]["months"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["gap"] == true)
        .map(|m| m["month"].as_str().unwrap())
        .collect();
    assert_eq!(gaps, ["2016-04"], "{fills}");
    let missing = app
        .client
        .get(app.url("/api/v1/imports/quality/nowhere"))
        .bearer_auth(&planner)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn an_import_that_stops_part_way_keeps_whole_batches_and_running_it_again_resumes() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.csv");
    let mut text = String::from(
        "CASE NUMBER,SR LOCATION,SR TYPE,STATUS,SR CREATE DATE,DATE CLOSED,Title,LATITUDE,LONGITUDE,Channel Type\n",
    );
    for n in 0..5_000 {
        text += &format!(
            "C-{n},{n} MAIN ST,Pothole,Open,2015-03-01 10:{:02}:{:02},,Pothole,Unknown,Unknown,WEB\n",
            n / 60 % 60,
            n % 60
        );
    }
    std::fs::write(&file, text).unwrap();
    // The database fails once 2,000 reports are stored: a disk that fills mid-import.
    if app.on_postgres() {
        app.execute(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF (SELECT COUNT(*) FROM request_sources) >= 2000 THEN RAISE EXCEPTION 'the disk is full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER full_disk BEFORE INSERT ON request_sources FOR EACH ROW EXECUTE FUNCTION refuse();",
        );
    } else {
        app.execute(
            "CREATE TRIGGER full_disk BEFORE INSERT ON request_sources WHEN (SELECT COUNT(*) FROM request_sources) >= 2000 BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
        );
    }
    let stopped = try_import(
        &app,
        "houston-reports.toml",
        std::slice::from_ref(&file),
        false,
    )
    .expect_err("the import stops");
    match &stopped {
        import::ImportError::Stopped { line, .. } => {
            assert_eq!(*line, 2_002, "the second batch starts on line 2,002")
        }
        other => panic!("{other}"),
    }
    assert!(
        stopped
            .to_string()
            .contains("running the same import again resumes")
    );
    assert_eq!(
        app.count_rows("requests"),
        2_000,
        "the first batch whole, nothing of the second"
    );
    assert_eq!(app.count_rows("request_updates"), 2_000);

    app.execute(if app.on_postgres() {
        "DROP TRIGGER full_disk ON request_sources; DROP FUNCTION refuse();"
    } else {
        "DROP TRIGGER full_disk;"
    });
    let resumed = import(&app, "houston-reports.toml", &[file]);
    assert_eq!((resumed.imported, resumed.already_present), (3_000, 2_000));
    assert_eq!(app.count_rows("requests"), 5_000);
}
