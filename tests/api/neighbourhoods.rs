//! The public neighbourhood dashboard's figures: from the summary, for anyone, as JSON,
//! CSV and GeoJSON; and the planner's statistics, from theirs.

use crate::helpers::{pothole_at, spawn_app, spawn_tiny_city};

#[tokio::test]
async fn anyone_reads_each_wards_figures_from_the_stored_summary_as_json_csv_and_geojson() {
    let app = spawn_tiny_city().await;
    // No key.
    let dashboard = app.get_json("/api/v1/neighbourhoods", 200).await;
    let kept =
        app.query_number("SELECT COUNT(*) AS n FROM summaries WHERE name = 'neighbourhoods'");
    assert_eq!(kept, 1, "kept as a summary");
    let wards = dashboard["wards"].as_array().unwrap();
    assert_eq!(wards.len() as i64, app.count_rows("wards"));
    assert_eq!(dashboard["weeks"].as_array().unwrap().len(), 12);
    let mut open_in_wards = 0;
    for ward in wards {
        let id = ward["ward_id"].as_i64().unwrap();
        let open = app.query_number(&format!(
            "SELECT COUNT(*) AS n FROM issues i JOIN segments s ON s.id = i.segment_id \
             WHERE i.status = 'open' AND s.ward_id = {id}"
        ));
        assert_eq!(ward["open_problems"].as_i64().unwrap(), open, "{ward}");
        open_in_wards += open;
        assert_eq!(ward["reported_by_week"].as_array().unwrap().len(), 12);
        if let Some(share) = ward["fixed_within_sla"].as_f64() {
            assert!((0.0..=1.0).contains(&share));
        }
        assert!(
            ward["satisfaction"].is_null(),
            "residents are not asked yet"
        );
    }
    let open = app.query_number("SELECT COUNT(*) AS n FROM issues WHERE status = 'open'");
    assert_eq!(dashboard["city"]["open_problems"].as_i64().unwrap(), open);
    assert!(open_in_wards <= open);
    assert!(
        wards.iter().any(|w| w["fixed"].as_i64().unwrap() > 0),
        "the demo city fixes problems"
    );

    let csv = app.get("/api/v1/neighbourhoods?format=csv").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ward_id,ward,open_problems"));
    assert_eq!(
        lines.len(),
        1 + wards.len() + 1,
        "a row per ward and the city"
    );

    let map = app
        .get_json("/api/v1/neighbourhoods?format=geojson", 200)
        .await;
    let features = map["features"].as_array().unwrap();
    assert_eq!(features.len(), wards.len());
    assert!(features[0]["geometry"]["type"].is_string());
    assert!(features[0]["properties"]["open_problems"].is_number());

    let bad = app
        .get_json("/api/v1/neighbourhoods?format=xlsx", 400)
        .await;
    assert!(bad["message"].as_str().unwrap().contains("format"), "{bad}");
    let unknown = app.get_json("/api/v1/neighbourhoods?ward=1", 400).await;
    assert!(
        unknown["message"].as_str().unwrap().contains("ward"),
        "{unknown}"
    );
}

#[tokio::test]
async fn the_planners_default_statistics_are_read_from_the_summary_and_a_window_is_computed() {
    let app = spawn_app().await;
    // The server computes the summaries as it starts; wait for that to be done.
    for _ in 0..100 {
        if app.query_number("SELECT COUNT(*) AS n FROM summaries WHERE name = 'stats_weekly'") == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.submit(&pothole_at(43.05, -76.15)).await;
    let at = backend::domain::now();
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || backend::stats::summaries::refresh(&db, at).unwrap())
        .await
        .unwrap();
    app.submit(&pothole_at(43.06, -76.16)).await;
    let pothole_open = |body: &serde_json::Value| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["service_code"] == "pothole")
            .map(|item| item["open"].as_i64().unwrap())
            .sum::<i64>()
    };
    // The default year: as the summary counted, and saying when.
    let stored = app
        .get_json("/api/v1/stats?group_by=service_code", 200)
        .await;
    assert_eq!(pothole_open(&stored), 1, "{stored}");
    assert_eq!(stored["computed_at"], backend::domain::format_datetime(at));
    assert_eq!(stored["window"]["reported_before"], stored["computed_at"]);
    let by_both = app
        .get_json("/api/v1/stats?group_by=ward,service_code", 200)
        .await;
    assert_eq!(pothole_open(&by_both), 1, "{by_both}");
    // A window of the planner's own is counted now.
    let live = app
        .get_json(
            "/api/v1/stats?group_by=service_code&reported_after=2020-01-01T00:00:00Z",
            200,
        )
        .await;
    assert_eq!(pothole_open(&live), 2, "{live}");
    // Weekly series: this week's pothole, from the summary, for any length up to 26.
    let weekly = app.get_json("/api/v1/stats/weekly?weeks=4", 200).await;
    assert_eq!(weekly["computed_at"], backend::domain::format_datetime(at));
    assert_eq!(weekly["series"]["pothole"], serde_json::json!([0, 0, 0, 1]));
    let longer = app.get_json("/api/v1/stats/weekly?weeks=52", 200).await;
    assert_eq!(longer["series"]["pothole"].as_array().unwrap().len(), 52);
    assert_eq!(longer["series"]["pothole"][51], 2, "computed now: {longer}");
}
