//! The maps' vector tiles: every segment coloured from the latest run, revalidation by
//! ETag, a new run seen at once, open issues and wards, and clear errors.

use crate::helpers::{TestApp, arterial_spot, pothole_at, spawn_tiny_city};
use backend::tiles::world;
use mvt_reader::Reader;
use mvt_reader::feature::{Feature, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The tiles at zoom `z` covering the stored segments.
fn tiles_over_city(app: &TestApp, z: u8) -> Vec<(u8, u32, u32)> {
    let (west, south, east, north) = app
        .db
        .read(backend::db::segments::extent)
        .unwrap()
        .expect("segments");
    let n = f64::from(1u32 << z);
    let [x0, y0] = world(west, north);
    let [x1, y1] = world(east, south);
    let mut tiles = Vec::new();
    for x in (x0 * n) as u32..=(x1 * n) as u32 {
        for y in (y0 * n) as u32..=(y1 * n) as u32 {
            tiles.push((z, x, y));
        }
    }
    tiles
}

/// A tile's features, with the response's ETag.
async fn features(app: &TestApp, layer: &str, (z, x, y): (u8, u32, u32)) -> (Vec<Feature>, String) {
    let response = app
        .get(&format!("/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.mapbox-vector-tile"
    );
    let tag = response.headers()["etag"].to_str().unwrap().to_owned();
    let bytes = response.bytes().await.unwrap().to_vec();
    let reader = Reader::new(bytes).expect("a valid tile");
    let names = reader.get_layer_names().unwrap();
    if names.is_empty() {
        return (Vec::new(), tag);
    }
    assert_eq!(names, vec![layer.to_owned()]);
    (reader.get_features(0).unwrap(), tag)
}

fn number(feature: &Feature, key: &str) -> f64 {
    match feature.properties.as_ref().and_then(|p| p.get(key)) {
        Some(Value::SInt(v) | Value::Int(v)) => *v as f64,
        Some(Value::Double(v)) => *v,
        other => panic!("{key} is {other:?}"),
    }
}

/// Probability by segment over all the tiles covering the city at `z`.
async fn risk_over_city(app: &TestApp, z: u8) -> BTreeMap<i64, f64> {
    let mut seen = BTreeMap::new();
    for tile in tiles_over_city(app, z) {
        for f in features(app, "risk", tile).await.0 {
            seen.insert(number(&f, "segment_id") as i64, number(&f, "probability"));
        }
    }
    seen
}

#[tokio::test]
async fn risk_tiles_colour_every_segment_at_city_zoom_and_follow_a_new_run() {
    let app = spawn_tiny_city().await;
    let segments = app.count_rows("segments");
    assert!(
        risk_over_city(&app, 12).await.is_empty(),
        "no model, no colours"
    );
    // The streets are there before any model, for the grey base map.
    let mut streets = BTreeSet::new();
    for tile in tiles_over_city(&app, 14) {
        for f in features(&app, "streets", tile).await.0 {
            streets.insert(number(&f, "segment_id") as i64);
        }
    }
    assert_eq!(streets.len() as i64, segments);

    app.train_and_score().await;
    let risk = risk_over_city(&app, 11).await;
    assert_eq!(
        risk.len() as i64,
        segments,
        "every segment coloured at city zoom"
    );
    let (&id, &p) = risk.iter().next().unwrap();
    let one = app
        .get_json(&format!("/api/v1/segments/{id}/risk"), 200)
        .await;
    let shown = backend::risk::rounded(one["probability"].as_f64().unwrap());
    assert_eq!(shown, p, "the tile reads as the API shows it");

    // A browser holding the tile revalidates it for nothing until a new run.
    let tile = tiles_over_city(&app, 11)[0];
    let (_, tag) = features(&app, "risk", tile).await;
    let path = format!("/api/v1/tiles/risk/{}/{}/{}.mvt", tile.0, tile.1, tile.2);
    let revalidate = || {
        app.client
            .get(app.url(&path))
            .header("If-None-Match", &tag)
            .send()
    };
    assert_eq!(revalidate().await.unwrap().status(), 304);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.train_and_score().await;
    let after = revalidate().await.unwrap();
    assert_eq!(after.status(), 200, "a new run is a new tile");
    assert_ne!(after.headers()["etag"].to_str().unwrap(), tag);
}

#[tokio::test]
async fn open_issues_and_wards_come_as_tiles() {
    let app = spawn_tiny_city().await;
    let (lat, lon, _) = arterial_spot();
    app.submit(&pothole_at(lat, lon)).await;
    let z = 16;
    let n = f64::from(1u32 << z);
    let [x, y] = world(lon, lat);
    let (issues, _) = features(&app, "issues", (z, (x * n) as u32, (y * n) as u32)).await;
    assert!(
        issues
            .iter()
            .any(|f| f.properties.as_ref().unwrap()["service_code"]
                == Value::String("pothole".into())),
        "{issues:?}"
    );
    let wards = app.count_rows("wards");
    let mut seen = BTreeSet::new();
    for tile in tiles_over_city(&app, 10) {
        for f in features(&app, "wards", tile).await.0 {
            seen.insert(number(&f, "ward_id") as i64);
        }
    }
    assert_eq!(seen.len() as i64, wards);
}

#[tokio::test]
async fn a_wrong_tile_address_gets_a_clear_error_naming_the_part() {
    let app = spawn_tiny_city().await;
    for (path, field, words) in [
        (
            "/api/v1/tiles/roads/1/0/0.mvt",
            "layer",
            "streets, risk, issues, wards",
        ),
        ("/api/v1/tiles/risk/23/0/0.mvt", "z", "0 to 22"),
        ("/api/v1/tiles/risk/2/4/0.mvt", "x", "0 to 3 at zoom 2"),
        ("/api/v1/tiles/risk/2/0/x.mvt", "y", "whole number"),
        ("/api/v1/tiles/risk/2/0/0.png", "y", "end in .mvt"),
        ("/api/v1/tiles/risk/2/0/0.mvt?z=3", "z", "not a parameter"),
    ] {
        let body = app.get_json(path, 400).await;
        let text = body.to_string();
        assert!(
            text.contains(field) && text.contains(words),
            "{path}: {text}"
        );
    }
}
