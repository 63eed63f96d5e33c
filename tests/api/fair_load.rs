//! Fair load and faults: write rate limits, one source counted once, cached aggregates,
//! and a server that says when its database fails and recovers without a restart.

use crate::helpers::{TestApp, pothole_at, spawn_app, spawn_app_with};
use backend::domain::Role;
use serde_json::Value;

/// An anonymous pothole report at a spot: no e-mail, device or account.
fn anonymous_pothole(lat: f64, long: f64) -> Vec<(String, String)> {
    let mut pairs = pothole_at(lat, long);
    pairs.retain(|(name, _)| !matches!(name.as_str(), "email" | "first_name" | "phone"));
    pairs
}

async fn post_report(app: &TestApp, key: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .form(&anonymous_pothole(43.05, -76.15));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("request sent")
}

#[tokio::test]
async fn writes_beyond_the_rate_are_refused_with_retry_after_and_nothing_is_stored() {
    let app = spawn_app_with(|s| s.write_rate_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(post_report(&app, None).await.status(), 200);
    }
    let refused = post_report(&app, None).await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(
        (1..=20).contains(&wait),
        "3 a minute frees one within 20 s: {wait}"
    );
    let body: Value = refused.json().await.unwrap();
    let description = body[0]["description"].as_str().unwrap();
    assert!(description.contains("at most 3 a minute"), "{description}");
    assert_eq!(body[0]["code"], 429);
    assert_eq!(app.count_rows("requests"), 3);

    // A key has its own allowance, and the API answers in its own shape.
    let key = app.issue_key(Role::Planner);
    let weights = || async {
        app.send_json(
            reqwest::Method::PUT,
            "/api/v1/priority/weights",
            Some(&key),
            Some(serde_json::json!({"severity": "heavy"})),
        )
        .await
    };
    for _ in 0..3 {
        assert_eq!(weights().await.0, 400, "refused for its body, but counted");
    }
    let (status, body) = weights().await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "rate_limited");
    // Roles come first: an anonymous write is told it needs a key, not to wait.
    let (status, _) = app
        .send_json(reqwest::Method::PUT, "/api/v1/priority/weights", None, None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_key_has_its_own_allowance_and_an_invented_key_buys_none() {
    let app = spawn_app_with(|s| s.write_rate_per_minute = 2).await;
    for _ in 0..2 {
        assert_eq!(post_report(&app, None).await.status(), 200);
    }
    assert_eq!(post_report(&app, None).await.status(), 429);
    assert_eq!(
        post_report(&app, Some("invented")).await.status(),
        429,
        "an unknown key counts against its address"
    );
    let key = app.issue_key(Role::Client);
    assert_eq!(post_report(&app, Some(&key)).await.status(), 200);
    assert_eq!(post_report(&app, Some(&key)).await.status(), 200);
    assert_eq!(post_report(&app, Some(&key)).await.status(), 429);
    // Reads are never limited.
    app.get_json("/open311/v2/services.json", 200).await;
}

#[tokio::test]
async fn anonymous_reports_from_one_source_count_as_one_reporter() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.submit(&anonymous_pothole(43.05, -76.15)).await;
    }
    assert_eq!(app.count_rows("issues"), 1);
    let reporters = || app.query_number("SELECT CAST(reporter_count AS BIGINT) AS n FROM issues");
    assert_eq!(reporters(), 1, "five anonymous posts from one address");
    // Residents who say who they are count as themselves, whatever their address.
    app.submit(&pothole_at(43.05, -76.15)).await;
    assert_eq!(reporters(), 2);
    // The address is kept only as a keyed hash.
    let stored = app.query_number(
        "SELECT COUNT(*) AS n FROM issue_reporters WHERE reporter LIKE '%127.0.0.1%'",
    );
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn statistics_are_computed_once_and_served_from_the_cache_for_a_while() {
    let app = spawn_app().await;
    app.submit(&pothole_at(43.05, -76.15)).await;
    let first = app
        .get_json("/api/v1/stats?group_by=service_code", 200)
        .await;
    app.submit(&pothole_at(43.06, -76.16)).await;
    let second = app
        .get_json("/api/v1/stats?group_by=service_code", 200)
        .await;
    assert_eq!(first, second, "the second read is the cached first");
    // Another question is computed afresh and sees both reports.
    // (A window of its own: the default year is read from the background summary.)
    let other = app
        .get_json(
            "/api/v1/stats?group_by=service_code&reported_after=2020-01-01T00:00:00Z",
            200,
        )
        .await;
    assert_ne!(other, first);
    let potholes = other["items"][0]["open"].as_i64().unwrap();
    assert_eq!(potholes, 2, "{other}");
    // The same question asked for GeoJSON is another question.
    let geojson = app
        .client
        .get(app.url("/api/v1/stats?group_by=ward"))
        .header("accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(geojson.status(), 200);
    let geojson: Value = geojson.json().await.unwrap();
    assert_eq!(geojson["type"], "FeatureCollection");
    // A refused question is not cached as an answer.
    app.get_json("/api/v1/stats?group_by=colour", 400).await;
    app.get_json("/api/v1/stats?group_by=colour", 400).await;
}

#[tokio::test]
async fn health_answers_from_the_last_check_with_the_database_named() {
    let app = spawn_app().await;
    let health = app.get_json("/health", 200).await;
    assert_eq!(health["status"], "ok");
    assert!(health["checked_at"].is_string(), "{health}");
}

/// Marks files immutable (`chattr +i`), and always clears the mark when dropped, so a
/// failing test leaves no file that cannot be deleted. Root ignores file permissions;
/// the immutable attribute stops even root, as a read-only mount would.
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    fn set(paths: Vec<std::path::PathBuf>) -> Immutable {
        for path in &paths {
            let status = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status()
                .expect("chattr runs (e2fsprogs)");
            assert!(status.success(), "chattr +i {}", path.display());
        }
        Immutable(paths)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(path)
                .status();
        }
    }
}

/// Polls `/health` until `ready` holds (at most 20 s); returns the last answer.
async fn health_until(app: &TestApp, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let body: Value = app.get("/health").await.json().await.unwrap();
        if ready(&body) {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("/health never reached the expected state");
}

#[tokio::test]
async fn a_read_only_database_file_gives_503_and_writes_resume_when_it_is_writable_again() {
    let app = spawn_app().await;
    let backend::db::DatabaseUrl::Sqlite(path) = app.database_url.clone() else {
        return; // A file fault: PostgreSQL's own faults are tested in `pg_restart`.
    };
    app.submit(&pothole_at(43.05, -76.15)).await;
    let planner = app.issue_key(Role::Planner);
    let wal = path.with_extension("db-wal");
    let frozen = Immutable::set(vec![path.clone(), wal]);

    // The open writer fails at its commit, and a new one opens read-only: both 503.
    for _ in 0..2 {
        let refused = app
            .post_form("/open311/v2/requests.json", &pothole_at(43.06, -76.16))
            .await;
        assert_eq!(refused.status(), 503);
    }
    // The native API answers the same way, and says nothing was saved.
    let (status, body) = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/priority/weights",
            Some(&planner),
            Some(serde_json::json!({"severity": 31.0})),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("nothing was saved")
    );
    let health = health_until(&app, |h| h["status"] == "degraded").await;
    let reason = health["reason"].as_str().unwrap();
    assert!(reason.starts_with("writes fail"), "{reason}");
    assert!(
        !reason.contains(path.to_str().unwrap()),
        "no path in public"
    );
    // Reads go on.
    app.get_json("/open311/v2/requests.json", 200).await;

    drop(frozen);
    health_until(&app, |h| h["status"] == "ok").await;
    app.submit(&pothole_at(43.06, -76.16)).await;
    assert_eq!(app.count_rows("requests"), 2);
}

#[tokio::test]
async fn a_server_refuses_to_start_on_a_database_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frozen.db");
    let url = backend::db::DatabaseUrl::Sqlite(path.clone());
    backend::db::Database::open(&url, 1).expect("created");
    let _frozen = Immutable::set(vec![path.clone()]);
    let settings = backend::config::Settings::for_database(url);
    let error = match backend::app::Application::build(settings).await {
        Ok(_) => panic!("a server started on a read-only database"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("takes no writes"), "{error}");
}
