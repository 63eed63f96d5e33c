//! Queries by place on the native API, checked against a brute-force computation over
//! the same data: random circles, boxes, polygons and nearest-k searches over the tiny
//! demo city, on whichever backend the suite runs.

use crate::helpers::{TestApp, spawn_tiny_city};
use geo::{
    Closest, Coord, Distance, Haversine, HaversineClosestPoint, Intersects, LineString, Point,
    Polygon, Rect,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The tiny city, once the server's index of report positions holds every located
/// report: searches by place are then answered from it.
async fn demo_app() -> TestApp {
    let app = spawn_tiny_city().await;
    let located = app.query_number(
        "SELECT COUNT(*) AS n FROM requests WHERE accepted_at IS NOT NULL AND lat IS NOT NULL",
    );
    app.wait_for("/health", |h| {
        h["indexed_reports"].as_i64() == Some(located)
    })
    .await;
    app
}

/// Every item of a listing, page after page.
async fn everything(app: &TestApp, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    for page in 1.. {
        let sep = if path.contains('?') { '&' } else { '?' };
        let body = app
            .get_json(&format!("{path}{sep}page={page}&page_size=1000"), 200)
            .await;
        let batch = body["items"].as_array().unwrap().clone();
        let total = body["total"].as_u64().unwrap() as usize;
        items.extend(batch);
        if items.len() >= total {
            break;
        }
    }
    items
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

fn position(item: &Value) -> Point<f64> {
    Point::new(item["lon"].as_f64().unwrap(), item["lat"].as_f64().unwrap())
}

fn lines(item: &Value) -> Vec<LineString<f64>> {
    let geometry = &item["geometry"];
    let to_line = |coordinates: &Value| {
        LineString::from(
            coordinates
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
                .collect::<Vec<_>>(),
        )
    };
    match geometry["type"].as_str().unwrap() {
        "LineString" => vec![to_line(&geometry["coordinates"])],
        _ => geometry["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(to_line)
            .collect(),
    }
}

fn distance_to_lines(centre: Point<f64>, lines: &[LineString<f64>]) -> f64 {
    lines
        .iter()
        .filter_map(|l| match l.haversine_closest_point(&centre) {
            Closest::Intersection(p) | Closest::SinglePoint(p) => {
                Some(Haversine.distance(centre, p))
            }
            Closest::Indeterminate => None,
        })
        .fold(f64::INFINITY, f64::min)
}

/// A random star-shaped (so simple) polygon around a point, with 3 to 12 vertices.
fn random_polygon(rng: &mut ChaCha8Rng, centre: (f64, f64)) -> Polygon<f64> {
    let n = rng.gen_range(3..=12);
    let mut angles: Vec<f64> = (0..n)
        .map(|_| rng.gen_range(0.0..std::f64::consts::TAU))
        .collect();
    angles.sort_by(f64::total_cmp);
    angles.dedup_by(|a, b| (*a - *b).abs() < 0.05);
    if angles.len() < 3 {
        angles = vec![0.0, 2.1, 4.2];
    }
    let mut ring: Vec<(f64, f64)> = angles
        .iter()
        .map(|a| {
            let r = rng.gen_range(0.002..0.01);
            (centre.0 + r * a.cos() * 1.37, centre.1 + r * a.sin())
        })
        .collect();
    ring.push(ring[0]);
    Polygon::new(LineString::from(ring), vec![])
}

fn polygon_json(polygon: &Polygon<f64>) -> Value {
    let ring: Vec<[f64; 2]> = polygon.exterior().coords().map(|c| [c.x, c.y]).collect();
    json!({"type": "Polygon", "coordinates": [ring]})
}

struct City {
    reports: Vec<Value>,
    issues: Vec<Value>,
    segments: Vec<Value>,
    west: f64,
    south: f64,
    east: f64,
    north: f64,
}

async fn load(app: &TestApp) -> City {
    let reports = everything(app, "/api/v1/reports").await;
    let issues = everything(app, "/api/v1/issues").await;
    let segments = everything(app, "/api/v1/segments").await;
    assert!(
        reports.len() > 100 && segments.len() > 50,
        "the tiny city has data"
    );
    let lons = reports.iter().filter_map(|r| r["lon"].as_f64());
    let lats = reports.iter().filter_map(|r| r["lat"].as_f64());
    City {
        west: lons.clone().fold(f64::INFINITY, f64::min),
        east: lons.fold(f64::NEG_INFINITY, f64::max),
        south: lats.clone().fold(f64::INFINITY, f64::min),
        north: lats.fold(f64::NEG_INFINITY, f64::max),
        reports,
        issues,
        segments,
    }
}

impl City {
    fn random_point(&self, rng: &mut ChaCha8Rng) -> (f64, f64) {
        (
            rng.gen_range(self.west - 0.003..self.east + 0.003),
            rng.gen_range(self.south - 0.003..self.north + 0.003),
        )
    }
}

#[tokio::test]
async fn radius_box_and_polygon_queries_return_exactly_what_brute_force_finds() {
    let app = demo_app().await;
    let city = load(&app).await;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for round in 0..12 {
        let (lon, lat) = city.random_point(&mut rng);
        let centre = Point::new(lon, lat);
        let radius_m: f64 = rng.gen_range(30.0..1500.0);

        // Radius: every report, issue and segment within radius_m, nearest first.
        let query = format!("lat={lat}&lon={lon}&radius_m={radius_m}");
        let mut expected: Vec<(f64, i64)> = city
            .reports
            .iter()
            .filter(|r| !r["lat"].is_null())
            .map(|r| {
                (
                    Haversine.distance(centre, position(r)),
                    r["id"].as_i64().unwrap(),
                )
            })
            .filter(|(d, _)| *d <= radius_m)
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let found = everything(&app, &format!("/api/v1/reports?{query}")).await;
        assert_eq!(
            ids(&found),
            expected.iter().map(|e| e.1).collect::<Vec<_>>(),
            "round {round}: reports within {radius_m} m of ({lon}, {lat})"
        );
        let expected_issues: BTreeSet<i64> = city
            .issues
            .iter()
            .filter(|i| Haversine.distance(centre, position(i)) <= radius_m)
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        let found = everything(&app, &format!("/api/v1/issues?{query}")).await;
        assert_eq!(
            ids(&found).into_iter().collect::<BTreeSet<_>>(),
            expected_issues
        );
        let expected_segments: BTreeSet<i64> = city
            .segments
            .iter()
            .filter(|s| distance_to_lines(centre, &lines(s)) <= radius_m)
            .map(|s| s["id"].as_i64().unwrap())
            .collect();
        let found = everything(&app, &format!("/api/v1/segments?{query}")).await;
        assert_eq!(
            ids(&found).into_iter().collect::<BTreeSet<_>>(),
            expected_segments,
            "round {round}: segments within {radius_m} m"
        );

        // Bounding box.
        let (w, s) = city.random_point(&mut rng);
        let (e, n) = (
            w + rng.gen_range(0.001..0.02),
            s + rng.gen_range(0.001..0.015),
        );
        let rect = Rect::new(Coord { x: w, y: s }, Coord { x: e, y: n });
        let expected: BTreeSet<i64> = city
            .reports
            .iter()
            .filter(|r| !r["lat"].is_null() && rect.intersects(&position(r)))
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        let found = everything(&app, &format!("/api/v1/reports?bbox={w},{s},{e},{n}")).await;
        assert_eq!(ids(&found).into_iter().collect::<BTreeSet<_>>(), expected);
        let expected_segments: BTreeSet<i64> = city
            .segments
            .iter()
            .filter(|seg| lines(seg).iter().any(|l| l.intersects(&rect)))
            .map(|seg| seg["id"].as_i64().unwrap())
            .collect();
        let found = everything(&app, &format!("/api/v1/segments?bbox={w},{s},{e},{n}")).await;
        assert_eq!(
            ids(&found).into_iter().collect::<BTreeSet<_>>(),
            expected_segments
        );

        // Polygon, sent in a search body.
        let around = city.random_point(&mut rng);
        let polygon = random_polygon(&mut rng, around);
        let expected: BTreeSet<i64> = city
            .reports
            .iter()
            .filter(|r| !r["lat"].is_null() && polygon.intersects(&position(r)))
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        let found: Value = app
            .client
            .post(app.url("/api/v1/reports/search"))
            .json(&json!({"polygon": polygon_json(&polygon), "page_size": 1000}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            ids(found["items"].as_array().unwrap())
                .into_iter()
                .collect::<BTreeSet<_>>(),
            expected,
            "round {round}: reports in {}",
            polygon_json(&polygon)
        );
        let expected_segments: BTreeSet<i64> = city
            .segments
            .iter()
            .filter(|seg| lines(seg).iter().any(|l| polygon.intersects(l)))
            .map(|seg| seg["id"].as_i64().unwrap())
            .collect();
        let encoded =
            url::form_urlencoded::byte_serialize(polygon_json(&polygon).to_string().as_bytes())
                .collect::<String>();
        let found = everything(&app, &format!("/api/v1/segments?polygon={encoded}")).await;
        assert_eq!(
            ids(&found).into_iter().collect::<BTreeSet<_>>(),
            expected_segments
        );
    }
}

#[tokio::test]
async fn nearest_k_returns_the_k_closest_in_order_with_their_distances() {
    let app = demo_app().await;
    let city = load(&app).await;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..10 {
        let (lon, lat) = city.random_point(&mut rng);
        let centre = Point::new(lon, lat);
        let k = rng.gen_range(1..40);
        let mut expected: Vec<(f64, i64)> = city
            .reports
            .iter()
            .filter(|r| !r["lat"].is_null())
            .map(|r| {
                (
                    Haversine.distance(centre, position(r)),
                    r["id"].as_i64().unwrap(),
                )
            })
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        expected.truncate(k);
        let found = app
            .get_json(
                &format!("/api/v1/reports?lat={lat}&lon={lon}&nearest={k}"),
                200,
            )
            .await;
        let items = found["items"].as_array().unwrap();
        assert_eq!(ids(items), expected.iter().map(|e| e.1).collect::<Vec<_>>());
        for (item, (distance, _)) in items.iter().zip(&expected) {
            assert!((item["distance_m"].as_f64().unwrap() - distance).abs() < 0.06);
        }
        let mut expected_segments: Vec<(f64, i64)> = city
            .segments
            .iter()
            .map(|s| {
                (
                    distance_to_lines(centre, &lines(s)),
                    s["id"].as_i64().unwrap(),
                )
            })
            .collect();
        expected_segments.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let found = app
            .get_json(
                &format!("/api/v1/segments?lat={lat}&lon={lon}&nearest=3"),
                200,
            )
            .await;
        assert_eq!(
            ids(found["items"].as_array().unwrap()),
            expected_segments
                .iter()
                .take(3)
                .map(|e| e.1)
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn filters_combine_with_place_and_pages_cover_every_result_once() {
    let app = demo_app().await;
    let city = load(&app).await;
    let first = &city.reports[city.reports.len() / 2];
    let (lon, lat) = (
        first["lon"].as_f64().unwrap(),
        first["lat"].as_f64().unwrap(),
    );
    let centre = Point::new(lon, lat);
    let expected: Vec<i64> = {
        let mut near: Vec<(f64, i64)> = city
            .reports
            .iter()
            .filter(|r| r["service_code"] == "pothole" && r["status"] == "fixed")
            .filter(|r| !r["lat"].is_null())
            .map(|r| {
                (
                    Haversine.distance(centre, position(r)),
                    r["id"].as_i64().unwrap(),
                )
            })
            .filter(|(d, _)| *d <= 2000.0)
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        near.into_iter().map(|n| n.1).collect()
    };
    assert!(expected.len() > 10, "enough fixed potholes to page through");
    let mut paged = Vec::new();
    for page in 1.. {
        let body = app
            .get_json(
                &format!("/api/v1/reports?lat={lat}&lon={lon}&radius_m=2000&service_code=pothole&status=fixed&page_size=7&page={page}"),
                200,
            )
            .await;
        assert_eq!(body["total"].as_u64().unwrap() as usize, expected.len());
        let items = body["items"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        paged.extend(ids(items));
    }
    assert_eq!(paged, expected);

    // Time filters: nothing requested before the first report, everything before now.
    let body = app
        .get_json("/api/v1/reports?requested_before=2000-01-01T00:00:00Z", 200)
        .await;
    assert_eq!(body["total"], 0);
}

fn ring_area(ring: &[Value]) -> f64 {
    // Shoelace: positive when anticlockwise.
    ring.windows(2)
        .map(|w| {
            let (a, b) = (&w[0], &w[1]);
            a[0].as_f64().unwrap() * b[1].as_f64().unwrap()
                - b[0].as_f64().unwrap() * a[1].as_f64().unwrap()
        })
        .sum::<f64>()
        / 2.0
}

fn assert_rfc7946(collection: &Value) {
    assert_eq!(collection["type"], "FeatureCollection");
    let features = collection["features"].as_array().unwrap();
    assert!(!features.is_empty());
    for feature in features {
        assert_eq!(feature["type"], "Feature");
        assert!(feature["properties"].is_object());
        assert!(
            feature["properties"].get("geometry").is_none(),
            "no geometry nested in properties"
        );
        let geometry = &feature["geometry"];
        let positions: Vec<&Value> = match geometry["type"].as_str().unwrap() {
            "Point" => vec![&geometry["coordinates"]],
            "LineString" => geometry["coordinates"].as_array().unwrap().iter().collect(),
            "Polygon" => {
                for (i, ring) in geometry["coordinates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                {
                    let ring = ring.as_array().unwrap();
                    assert!(ring.len() >= 4);
                    assert_eq!(ring.first(), ring.last(), "rings are closed");
                    let area = ring_area(ring);
                    assert!(
                        if i == 0 { area > 0.0 } else { area < 0.0 },
                        "right-hand rule"
                    );
                }
                geometry["coordinates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r.as_array().unwrap())
                    .collect()
            }
            other => panic!("unexpected geometry {other}"),
        };
        for p in positions {
            let p = p.as_array().unwrap();
            assert_eq!(p.len(), 2);
            // The demo city is in Syracuse: longitude about -76, latitude about 43.
            assert!(
                (-77.0..-75.0).contains(&p[0].as_f64().unwrap()),
                "longitude first"
            );
            assert!((42.0..44.0).contains(&p[1].as_f64().unwrap()));
        }
    }
}

#[tokio::test]
async fn geojson_output_follows_rfc_7946() {
    let app = demo_app().await;
    for path in [
        "/api/v1/reports?format=geojson&page_size=50",
        "/api/v1/issues?format=geojson&page_size=50",
        "/api/v1/segments?format=geojson&page_size=50",
        "/api/v1/wards?format=geojson",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/geo+json"
        );
        assert_rfc7946(&response.json().await.unwrap());
    }
    let response = app
        .client
        .get(app.url("/api/v1/segments?page_size=5"))
        .header("Accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_rfc7946(&response.json().await.unwrap());
}

#[tokio::test]
async fn ward_counts_add_up_to_the_reports_on_each_wards_segments() {
    let app = demo_app().await;
    let wards = app.get_json("/api/v1/wards", 200).await;
    let items = wards["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().any(|w| w["reports"].as_i64().unwrap() > 0));
    for ward in items {
        let id = ward["id"].as_i64().unwrap();
        let expected = app.query_number(&format!(
            "SELECT COUNT(*) AS n FROM requests JOIN segments ON requests.segment_id = segments.id \
             WHERE segments.ward_id = {id} AND requests.accepted_at IS NOT NULL"
        ));
        assert_eq!(ward["reports"].as_i64().unwrap(), expected);
        let by_status: i64 = ward["reports_by_status"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        let by_service: i64 = ward["reports_by_service"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(by_status, expected);
        assert_eq!(by_service, expected);
    }
}

#[tokio::test]
async fn bad_places_and_parameters_get_a_400_saying_what_and_where() {
    let app = demo_app().await;
    let bow_tie = url::form_urlencoded::byte_serialize(
        br#"{"type":"Polygon","coordinates":[[[-76.15,43.04],[-76.14,43.05],[-76.14,43.04],[-76.15,43.05],[-76.15,43.04]]]}"#,
    )
    .collect::<String>();
    for (path, words) in [
        (
            format!("/api/v1/reports?polygon={bow_tie}"),
            "not a valid polygon",
        ),
        ("/api/v1/reports?polygon=%7B%7D".to_owned(), "polygon"),
        (
            "/api/v1/reports?lat=43&lon=-76&radius_m=10&bbox=0,0,1,1".to_owned(),
            "one area at a time",
        ),
        ("/api/v1/reports?lat=43&lon=-76".to_owned(), "radius_m"),
        (
            "/api/v1/reports?radius_m=100".to_owned(),
            "lat and lon are required",
        ),
        (
            "/api/v1/reports?lat=91&lon=-76&radius_m=100".to_owned(),
            "latitude",
        ),
        (
            "/api/v1/reports?lat=43&lon=-76&radius_m=-5".to_owned(),
            "radius_m",
        ),
        ("/api/v1/segments?bbox=1,2,3".to_owned(), "four numbers"),
        ("/api/v1/segments?bbox=3,2,1,4".to_owned(), "west"),
        (
            "/api/v1/issues?lat=43&lon=-76&nearest=0".to_owned(),
            "nearest",
        ),
        (
            "/api/v1/issues?radius=100".to_owned(),
            "not a parameter here",
        ),
        ("/api/v1/issues?status=maybe".to_owned(), "open or closed"),
        ("/api/v1/reports?status=lost".to_owned(), "status"),
        ("/api/v1/reports?format=kml".to_owned(), "format"),
        (
            "/api/v1/reports?requested_after=yesterday".to_owned(),
            "requested_after",
        ),
        ("/api/v1/wards?colour=red".to_owned(), "colour"),
    ] {
        let body = app.get_json(&path, 400).await;
        assert_eq!(body["error"], "invalid_parameter", "{path}");
        assert!(
            body["message"].as_str().unwrap().contains(words),
            "{path}: {body}"
        );
    }
    let response = app
        .client
        .post(app.url("/api/v1/reports/search"))
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // A null is no filter the document allows: refused, naming the field.
    let response = app
        .client
        .post(app.url("/api/v1/reports/search"))
        .header("Content-Type", "application/json")
        .body(r#"{"polygon": null}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("'polygon' is null"),
        "{body}"
    );
    for path in [
        "/api/v1/reports/999999",
        "/api/v1/issues/abc",
        "/api/v1/segments/0",
    ] {
        assert_eq!(app.get_json(path, 404).await["error"], "not_found");
    }
}

#[tokio::test]
async fn one_item_reads_as_json_or_as_a_feature() {
    let app = demo_app().await;
    let report = &app.get_json("/api/v1/reports?page_size=1", 200).await["items"][0];
    let id = report["id"].as_i64().unwrap();
    let one = app.get_json(&format!("/api/v1/reports/{id}"), 200).await;
    assert_eq!(one["id"], id);
    assert!(
        one.get("email").is_none() && one.get("phone").is_none(),
        "no contact details"
    );
    let feature = app
        .get_json(&format!("/api/v1/reports/{id}?format=geojson"), 200)
        .await;
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["id"], id);
    assert_eq!(feature["geometry"]["coordinates"][0], one["lon"]);
}

#[tokio::test]
async fn a_report_stored_through_another_server_is_found_by_place_here_within_seconds() {
    let app = demo_app().await;
    let other = app.spawn_second_server().await;
    let (lat, lon, _) = crate::helpers::arterial_spot();
    let response = app
        .client
        .post(format!("{other}/open311/v2/requests.json"))
        .form(&crate::helpers::pothole_at(lat, lon))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let id: i64 = body[0]["service_request_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let path = format!("/api/v1/reports?lat={lat}&lon={lon}&radius_m=50&page_size=1000");
    let found = app
        .wait_for(&path, |page| {
            ids(page["items"].as_array().unwrap()).contains(&id)
        })
        .await;
    assert_eq!(found["items"][0]["id"], id, "the nearest: {found}");
    // And one stored here is found here at once.
    let mine = app
        .submit(&crate::helpers::pothole_at(lat, lon + 0.000_1))
        .await;
    let page = app.get_json(&path, 200).await;
    assert!(
        ids(page["items"].as_array().unwrap()).contains(&mine.parse().unwrap()),
        "{page}"
    );
}
