//! Importing a road network through the API, and what it changes for reports.

use crate::helpers::{pothole_at, spawn_app};
use backend::domain::Role;
use serde_json::{Value, json};

fn network() -> Value {
    json!({"type": "FeatureCollection", "features": [
        {"type": "Feature",
         "properties": {"STREET_ID": "S1", "STREET": "LONG ST", "CART_CLASS": "MAJOR", "AADT": 15000},
         // About 1.6 km east–west: split into pieces of at most 250 m.
         "geometry": {"type": "LineString", "coordinates": [[-76.17, 43.05], [-76.15, 43.05]]}},
        {"type": "Feature", "properties": {"STREET_ID": "S2"},
         "geometry": {"type": "Polygon", "coordinates": [[[-76.1, 43.0], [-76.0, 43.0], [-76.0, 43.1], [-76.1, 43.0]]]}},
        {"type": "Feature", "properties": {"STREET_ID": "S3", "CART_CLASS": "DRIVEWAY"},
         "geometry": {"type": "LineString", "coordinates": [[-76.16, 43.06], [-76.1598, 43.06]]}}
    ]})
}

const MAPPING: &str = "id_field=STREET_ID&name_field=STREET&class_field=CART_CLASS&class_map=MAJOR%3Darterial&traffic_field=AADT";

#[tokio::test]
async fn a_planner_imports_segments_and_bad_features_are_listed_by_index_and_reason() {
    let app = spawn_app().await;
    let key = app.issue_key(Role::Planner);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/segments?{MAPPING}")))
        .bearer_auth(&key)
        .json(&network())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["features"], 3);
    assert_eq!(body["features_imported"], 2);
    assert_eq!(body["rejected"][0]["index"], 1);
    assert!(
        body["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("Polygon")
    );
    assert_eq!(body["unmapped_classes"][0][0], "DRIVEWAY");
    let created = body["segments_created"].as_u64().unwrap();
    assert_eq!(created, 8, "7 pieces of the long street and the driveway");
    assert_eq!(app.count_rows("segments"), 8);

    let long = app
        .get_json(
            "/api/v1/segments?bbox=-76.171,43.049,-76.149,43.051&road_class=arterial",
            200,
        )
        .await;
    let pieces = long["items"].as_array().unwrap();
    assert_eq!(pieces.len(), 7);
    for piece in pieces {
        assert_eq!(piece["external_id"], "S1");
        assert_eq!(piece["aadt"], 15000);
        assert!(piece["length_m"].as_f64().unwrap() <= 250.0);
        assert!(piece.get("source_properties").is_none(), "not in listings");
    }
    let one = app
        .get_json(&format!("/api/v1/segments/{}", pieces[0]["id"]), 200)
        .await;
    assert_eq!(
        one["source_properties"]["CART_CLASS"], "MAJOR",
        "the file's own properties are kept"
    );
    let driveway = app
        .get_json("/api/v1/segments?road_class=DRIVEWAY", 200)
        .await;
    assert_eq!(driveway["total"], 1, "unknown classes are kept as they are");

    // A report beside the new street snaps to it at once.
    let id = app.submit(&pothole_at(43.0501, -76.16)).await;
    let report = app.get_json(&format!("/api/v1/reports/{id}"), 200).await;
    let segment = report["segment_id"].as_i64().expect("snapped");
    assert!(pieces.iter().any(|p| p["id"] == segment));
    assert!((report["snap_distance_m"].as_f64().unwrap() - 11.1).abs() < 0.3);
}

#[tokio::test]
async fn only_planners_and_admins_import_and_nothing_is_stored_from_a_refused_file() {
    let app = spawn_app().await;
    let post = |key: Option<String>, body: String, query: &'static str| {
        let mut request = app
            .client
            .post(app.url(&format!("/api/v1/segments{query}")))
            .header("content-type", "application/geo+json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let file = network().to_string();
    assert_eq!(post(None, file.clone(), "").await.unwrap().status(), 401);
    for role in [Role::Client, Role::Crew] {
        let response = post(Some(app.issue_key(role)), file.clone(), "")
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("planner and admin")
        );
    }
    let admin = app.issue_key(Role::Admin);
    let response = post(Some(admin.clone()), "{\"type\":\"Point\"}".into(), "")
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let only_bad = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": null}]});
    let response = post(Some(admin.clone()), only_bad.to_string(), "")
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let response = post(Some(admin.clone()), file.clone(), "?dry_run=true")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = post(Some(admin.clone()), file.clone(), "?colour=red")
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(app.count_rows("segments"), 0);
    let response = post(Some(admin), file, "").await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        app.count_rows("segments"),
        8,
        "without a mapping the same lines are stored, classes unclassified"
    );
}
