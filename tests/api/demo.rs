use crate::helpers::spawn_app_with;
use serde_json::Value;

#[tokio::test]
async fn an_empty_database_starts_with_the_demo_city_and_its_recent_reports() {
    let app = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
    })
    .await;
    assert!(app.count_rows("segments") > 50);
    assert!(app.count_rows("sensor_readings") > 1000);
    assert!(
        app.count_rows("truth_potholes") > 0,
        "the truth is stored, apart"
    );
    let recent = app
        .get_json("/open311/v2/requests.json?extensions=true", 200)
        .await;
    let recent = recent.as_array().expect("a list");
    assert!(!recent.is_empty(), "the last 90 days hold reports");
    let closed: Vec<&Value> = recent.iter().filter(|r| r["status"] == "closed").collect();
    assert!(!closed.is_empty());
    let notes = closed[0]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "received, then closed");
    assert!(closed[0]["status_notes"].is_string());
    assert!(
        recent
            .iter()
            .any(|r| r["extended_attributes"]["segment_id"].is_string()),
        "historic reports are snapped to their streets"
    );

    // A new report gets a fresh id after the historic ones.
    let id = app.submit(&crate::helpers::pothole_at(43.05, -76.15)).await;
    let newest: i64 = id.parse().unwrap();
    assert!(newest > app.count_rows("requests") - 1);
}

#[tokio::test]
async fn the_demo_city_is_not_loaded_twice() {
    let app = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
    })
    .await;
    let city = models::city::generate(
        &models::city::CityParams::demo(
            1,
            models::city::CitySize::Tiny,
            chrono::Utc::now().date_naive(),
        ),
        &mut |_| {},
    );
    let catalogue = backend::catalogue::Catalogue {
        services: app.db.read(backend::db::services::active).unwrap().0,
        changed_at: backend::domain::now(),
    };
    let before = app.count_rows("requests");
    let err = backend::demo::load(&app.db, city, &catalogue, 50.0, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    assert_eq!(app.count_rows("requests"), before);
}
