//! The public neighbourhood dashboard's figures: from the summary, for anyone, as JSON,
//! CSV and GeoJSON.

use crate::helpers::spawn_tiny_city;

#[tokio::test]
async fn anyone_reads_each_wards_figures_from_the_stored_summary_as_json_csv_and_geojson() {
    let app = spawn_tiny_city().await;
    // No key.
    let dashboard = app.get_json("/api/v1/neighbourhoods", 200).await;
    assert_eq!(app.count_rows("summaries"), 1, "kept as a summary");
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
