//! Importing a city's past reports through a mapping file, on either backend.

use crate::helpers::{TestApp, spawn_app};
use backend::import::mapping::ReportMapping;
use backend::import::{Summary, reports};
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

/// Imports `files` into the test server's database as `upkeep import reports` does.
fn import(app: &TestApp, mapping: &str, files: &[PathBuf]) -> Summary {
    let (services, changed_at) = app
        .db
        .read(backend::db::services::active)
        .expect("the catalogue");
    let catalogue = backend::catalogue::Catalogue {
        services,
        changed_at,
    };
    let mapping = ReportMapping::load(&mapping_file(mapping), &catalogue).expect("the mapping");
    let index = backend::roads::load_index(&app.db)
        .expect("the segments")
        .current();
    let ctx = reports::Context {
        db: &app.db,
        catalogue: &catalogue,
        segments: &index,
        snap_limit_m: 50.0,
        dry_run: false,
    };
    let files: Vec<reports::NamedFile> = files.iter().map(reports::NamedFile::at).collect();
    reports::import(&ctx, &mapping, &files, &mut |_| {}).expect("the import runs")
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

/// POSTs a mapping and files to `/api/v1/imports/reports` with `key`.
async fn post_import(
    app: &TestApp,
    key: Option<&str>,
    query: &str,
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
        .post(app.url(&format!("/api/v1/imports/reports{query}")))
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

    let (status, _) = post_import(&app, None, "", &mapping, &files).await;
    assert_eq!(status, 401, "anonymous callers import nothing");
    let client = app.issue_key(backend::domain::Role::Client);
    let (status, _) = post_import(&app, Some(&client), "", &mapping, &files).await;
    assert_eq!(status, 403, "nor do Open311 client keys");
    assert_eq!(app.count_rows("requests"), 0);

    let planner = app.issue_key(backend::domain::Role::Planner);
    let (status, checked) =
        post_import(&app, Some(&planner), "?dry_run=true", &mapping, &files).await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["imported"], 1_305);
    assert_eq!(app.count_rows("requests"), 0, "a dry run stores nothing");
    let (status, stored) = post_import(&app, Some(&planner), "", &mapping, &files).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["imported"], 1_305);
    assert_eq!(stored["rejected"], 0);
    assert_eq!(app.count_rows("requests"), 1_305);

    // A mapping naming things that do not exist is refused before any row is read.
    let wrong = mapping.replace("\"pothole\"", "\"unicorn\"");
    let (status, refused) = post_import(&app, Some(&planner), "", &wrong, &files).await;
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
        "",
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
