//! Work orders over HTTP: from a resident's report to a crew's completed repair, who may
//! change what, priorities and their breakdown, a crew's day, inspections and statistics.

use crate::helpers::{TestApp, pothole_at, spawn_app, spawn_app_with, spawn_tiny_city};
use backend::domain::Role;
use models::city::CitySize;
use reqwest::Method;
use serde_json::{Value, json};

/// One arterial street, about 1.6 km east–west at latitude 43.05, in pieces of 250 m.
pub(crate) async fn import_street(app: &TestApp, planner: &str) {
    let network = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature",
         "properties": {"STREET_ID": "S1", "STREET": "LONG ST", "CART_CLASS": "MAJOR", "AADT": 15000},
         "geometry": {"type": "LineString", "coordinates": [[-76.17, 43.05], [-76.15, 43.05]]}}
    ]});
    let (status, body) = app
        .send_json(
            Method::POST,
            "/api/v1/segments?id_field=STREET_ID&class_field=CART_CLASS&class_map=MAJOR%3Darterial&traffic_field=AADT",
            Some(planner),
            Some(network),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn create_crew(app: &TestApp, planner: &str, name: &str, codes: &[&str]) -> i64 {
    let (status, body) = app
        .send_json(
            Method::POST,
            "/api/v1/crews",
            Some(planner),
            Some(json!({
                "name": name, "depot_lat": 43.05, "depot_lon": -76.16,
                "service_codes": codes, "daily_capacity": 8
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

/// The work order of the issue report `request_id` belongs to, once the server has made it
/// and given it a priority.
async fn order_of_report(app: &TestApp, request_id: &str) -> Value {
    let report = app
        .get_json(&format!("/api/v1/reports/{request_id}"), 200)
        .await;
    let issue = report["issue_id"]
        .as_i64()
        .expect("the report has an issue");
    let listing = app
        .wait_for(&format!("/api/v1/work-orders?issue_id={issue}"), |b| {
            b["total"] == 1 && b["items"][0]["priority"].as_f64().unwrap_or(0.0) > 0.0
        })
        .await;
    listing["items"][0].clone()
}

fn assert_breakdown_sums_to_priority(order: &Value) {
    let parts = order["priority_breakdown"].as_object().unwrap();
    assert_eq!(parts.len(), 7, "{order}");
    let sum: f64 = parts.values().map(|v| v.as_f64().unwrap()).sum();
    let priority = order["priority"].as_f64().unwrap();
    // The parts are shown to two decimals each.
    assert!(
        (sum - priority).abs() <= 0.005 * parts.len() as f64,
        "parts {sum} against priority {priority}: {order}"
    );
}

fn pothole_from(lat: f64, lon: f64, email: &str) -> Vec<(String, String)> {
    let mut report = pothole_at(lat, lon);
    for (key, value) in &mut report {
        if key == "email" {
            *value = email.to_owned();
        }
    }
    report
}

#[tokio::test]
async fn a_report_becomes_an_order_that_its_crew_completes_and_residents_see_closed() {
    let app = spawn_app().await;
    let planner = app.issue_key(Role::Planner);
    import_street(&app, &planner).await;
    let roads = create_crew(&app, &planner, "North roads", &["pothole"]).await;
    let other = create_crew(&app, &planner, "South roads", &["pothole"]).await;

    // Two residents report the same pothole on the arterial: one issue, one order.
    let first = app
        .submit(&pothole_from(43.0501, -76.16, "a@example.org"))
        .await;
    let second = app
        .submit(&pothole_from(43.0501, -76.16005, "b@example.org"))
        .await;
    let order = order_of_report(&app, &first).await;
    assert_eq!(order["status"], "new");
    assert_eq!(order["kind"], "repair");
    assert_eq!(order["service_code"], "pothole");
    assert!(order["segment_id"].is_i64());
    assert_breakdown_sums_to_priority(&order);
    let requested = app.request_with_extensions(&first).await["requested_datetime"]
        .as_str()
        .unwrap()
        .to_owned();
    let due = |at: &Value| chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap()).unwrap();
    assert_eq!(
        (due(&order["due_at"]) - due(&json!(requested))).num_days(),
        2,
        "potholes on arterials are due in two days"
    );
    let id = order["id"].as_i64().unwrap();
    let path = format!("/api/v1/work-orders/{id}");

    // A planner assigns it; residents read that a crew has it.
    let (status, assigned) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&planner),
            Some(json!({"crew_id": roads})),
        )
        .await;
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(assigned["status"], "assigned");
    let report = app.request_with_extensions(&second).await;
    assert_eq!(report["status"], "open");
    assert!(
        report["status_notes"]
            .as_str()
            .unwrap()
            .contains("crew has been assigned")
    );

    // Another crew may not touch it; its own crew works it and completes it.
    let (status, denied) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&app.crew_key(other)),
            Some(json!({"status": "in_progress"})),
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        denied["message"]
            .as_str()
            .unwrap()
            .contains("not assigned to your crew")
    );
    let crew = app.crew_key(roads);
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&crew),
            Some(json!({"status": "in_progress"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, done) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&crew),
            Some(json!({
                "status": "completed",
                "notes": "Cut and patched; <b>kerb</b> checked",
                "labour_minutes": 45,
                "materials": [{"item": "cold asphalt", "quantity": 2, "unit": "bag"}],
                "photo_urls": ["https://photos.example.org/after.jpg"]
            })),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["outcome"], "repaired");
    assert_eq!(done["notes"], "Cut and patched; <b>kerb</b> checked");
    assert_eq!(done["materials"][0]["item"], "cold asphalt");
    assert_eq!(done["labour_minutes"], 45);

    // Anyone may follow the order, but not read staff's notes, materials or names.
    let public = app.get_json(&path, 200).await;
    assert_eq!(public["status"], "completed");
    assert!(public["notes"].is_null(), "{public}");
    assert_eq!(public["materials"], json!([]));
    let history = public["history"].as_array().unwrap();
    assert!(!history.is_empty());
    for event in history {
        let by = event["by"].as_str().unwrap();
        assert!(!by.contains(':'), "a role label only: {by}");
    }
    let listed = app
        .get_json("/api/v1/work-orders?status=completed", 200)
        .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["notes"].is_null() && o["materials"] == json!([])),
        "{listed}"
    );
    let (status, staff) = app
        .send_json(Method::GET, &path, Some(&planner), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(staff["notes"], "Cut and patched; <b>kerb</b> checked");
    assert!(
        staff["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["by"].as_str().unwrap().contains(':')),
        "staff see who: {staff}"
    );
    let (status, _) = app
        .send_json(Method::GET, &path, Some("not-a-key"), None)
        .await;
    assert_eq!(status, 401, "a key that is sent must be a key");

    // Both residents see their reports closed, with a note, through Open311.
    for request in [&first, &second] {
        let report = app.request_with_extensions(request).await;
        assert_eq!(report["status"], "closed", "{report}");
        assert!(
            report["status_notes"]
                .as_str()
                .unwrap()
                .starts_with("Repaired by a city crew")
        );
    }
    let issue = order["issue_id"].as_i64().unwrap();
    let issue = app.get_json(&format!("/api/v1/issues/{issue}"), 200).await;
    assert_eq!(issue["status"], "closed");
    assert_eq!(
        app.query_number(&format!(
            "SELECT COUNT(*) AS n FROM maintenance_history WHERE work_order_id = {id} AND kind = 'pothole_repair'"
        )),
        1,
        "the repair is maintenance history the model learns from"
    );

    // The history says who changed what, from what to what (to staff: names too).
    let (_, shown) = app
        .send_json(Method::GET, &path, Some(&planner), None)
        .await;
    let history = shown["history"].as_array().unwrap();
    let step = |field: &str, to: &str| {
        history
            .iter()
            .find(|e| e["field"] == field && e["to"] == to)
            .unwrap_or_else(|| panic!("no {field} → {to} in {history:?}"))
            .clone()
    };
    assert_eq!(step("status", "new")["by"], "system:intake");
    let assigned = step("status", "assigned");
    assert_eq!(assigned["from"], "new");
    assert!(assigned["by"].as_str().unwrap().starts_with("planner:"));
    assert!(
        step("status", "in_progress")["by"]
            .as_str()
            .unwrap()
            .starts_with("crew:")
    );
    assert_eq!(step("labour_minutes", "45")["from"], "0");
    assert_eq!(step("crew_id", &roads.to_string())["from"], Value::Null);

    // Closed is closed until someone reopens it, with a reason.
    let (status, _) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&crew),
            Some(json!({"notes": "more"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, refused) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&planner),
            Some(json!({"status": "assigned"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().starts_with("reason"));
    let (status, reopened) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&planner),
            Some(json!({"status": "assigned", "reason": "The patch broke up in the rain"})),
        )
        .await;
    assert_eq!(status, 200, "{reopened}");
    assert_eq!(reopened["completed_at"], Value::Null);
    let report = app.request_with_extensions(&first).await;
    assert_eq!(report["status"], "open");
    assert!(
        report["status_notes"]
            .as_str()
            .unwrap()
            .contains("broke up in the rain")
    );
    let history = app.get_json(&path, 200).await["history"].clone();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "reason" && e["to"] == "The patch broke up in the rain")
    );
}

/// A server with one street and one resident's pothole report on it, and that report's
/// order once prioritised.
async fn one_reported_order() -> (TestApp, Value) {
    let app = spawn_app().await;
    let planner = app.issue_key(Role::Planner);
    import_street(&app, &planner).await;
    let first = app
        .submit(&pothole_from(43.0501, -76.15, "a@example.org"))
        .await;
    let order = order_of_report(&app, &first).await;
    (app, order)
}

#[tokio::test]
async fn a_second_resident_raises_the_priority_of_the_order_within_seconds() {
    let (app, before) = one_reported_order().await;
    let reporters_before = before["priority_breakdown"]["reporters"].as_f64().unwrap();

    // Another resident reports the same pothole. Only the reported issue is looked at
    // again, at once: not a minute later with every open order in the city.
    app.submit(&pothole_from(43.0501, -76.15005, "b@example.org"))
        .await;
    let issue = before["issue_id"].as_i64().unwrap();
    let after = app
        .wait_for(&format!("/api/v1/work-orders?issue_id={issue}"), |b| {
            b["items"][0]["priority_breakdown"]["reporters"]
                .as_f64()
                .is_some_and(|r| r > reporters_before)
        })
        .await;
    let order = &after["items"][0];
    assert_eq!(order["id"], before["id"], "still one order for the issue");
    assert!(order["priority"].as_f64().unwrap() > before["priority"].as_f64().unwrap());
    assert_breakdown_sums_to_priority(order);
}

#[tokio::test]
async fn a_later_report_saying_the_pothole_is_large_raises_its_orders_severity_for_good() {
    let (app, before) = one_reported_order().await;
    let severity_before = before["priority_breakdown"]["severity"].as_f64().unwrap();
    let issue = before["issue_id"].as_i64().unwrap();

    let mut large = pothole_from(43.0501, -76.15005, "b@example.org");
    for (key, value) in &mut large {
        if key == "attribute[size]" {
            *value = "large".into();
        }
    }
    app.submit(&large).await;
    let after = app
        .wait_for(&format!("/api/v1/work-orders?issue_id={issue}"), |b| {
            b["items"][0]["priority_breakdown"]["severity"]
                .as_f64()
                .is_some_and(|s| s > severity_before)
        })
        .await;
    let severity_large = after["items"][0]["priority_breakdown"]["severity"]
        .as_f64()
        .unwrap();

    // A third resident calls it medium again: the largest answer given still counts.
    app.submit(&pothole_from(43.05011, -76.15, "c@example.org"))
        .await;
    let settled = app
        .wait_for(&format!("/api/v1/work-orders?issue_id={issue}"), |b| {
            b["items"][0]["priority_breakdown"]["reporters"].as_f64()
                > after["items"][0]["priority_breakdown"]["reporters"].as_f64()
        })
        .await;
    let order = &settled["items"][0];
    assert_eq!(
        order["priority_breakdown"]["severity"].as_f64(),
        Some(severity_large)
    );
    assert_breakdown_sums_to_priority(order);
}

#[tokio::test]
async fn every_role_meets_every_write_endpoint_with_the_right_answer() {
    let app = spawn_app().await;
    let planner = app.issue_key(Role::Planner);
    import_street(&app, &planner).await;
    let crew_id = create_crew(&app, &planner, "Roads", &["pothole"]).await;
    let report = app.submit(&pothole_at(43.0501, -76.16)).await;
    let order = order_of_report(&app, &report).await;
    let order_id = order["id"].as_i64().unwrap();
    let (status, _) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/work-orders/{order_id}"),
            Some(&planner),
            Some(json!({"crew_id": crew_id})),
        )
        .await;
    assert_eq!(status, 200);

    let keys: Vec<(&str, Option<String>)> = vec![
        ("anonymous", None),
        ("client", Some(app.issue_key(Role::Client))),
        ("crew", Some(app.crew_key(crew_id))),
        ("planner", Some(app.issue_key(Role::Planner))),
        ("admin", Some(app.issue_key(Role::Admin))),
    ];
    let weights = app.get_json("/api/v1/priority/weights", 200).await["weights"].clone();
    let pothole_service = app.get_json("/api/v1/services", 200).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "pothole")
        .unwrap()
        .clone();
    // (method, path, body, roles allowed). Allowed calls may still fail for other
    // reasons (a conflict, say); what matters here is that they are not refused.
    let endpoints: Vec<(Method, String, Option<Value>, &[&str])> = vec![
        (
            Method::PATCH,
            format!("/api/v1/work-orders/{order_id}"),
            Some(json!({"notes": "checked"})),
            &["crew", "planner", "admin"],
        ),
        (
            Method::POST,
            "/api/v1/work-orders".into(),
            Some(json!({"segment_id": order["segment_id"]})),
            &["planner", "admin"],
        ),
        (
            Method::POST,
            "/api/v1/inspections".into(),
            Some(json!({"budget": 1})),
            &["planner", "admin"],
        ),
        (
            Method::POST,
            "/api/v1/crews".into(),
            Some(
                json!({"name": format!("crew {}", uuid::Uuid::new_v4()), "depot_lat": 43.05,
                        "depot_lon": -76.16, "service_codes": ["graffiti"], "daily_capacity": 5}),
            ),
            &["planner", "admin"],
        ),
        (
            Method::PUT,
            "/api/v1/priority/weights".into(),
            Some(weights.clone()),
            &["planner", "admin"],
        ),
        (
            Method::POST,
            format!("/api/v1/requests/{report}/status"),
            Some(json!({"status": "acknowledged"})),
            &["crew", "planner", "admin"],
        ),
        (
            Method::GET,
            format!("/api/v1/crews/{crew_id}/day"),
            None,
            &["crew", "planner", "admin"],
        ),
        (
            Method::PUT,
            "/api/v1/services/pothole".into(),
            Some(pothole_service.clone()),
            &["planner", "admin"],
        ),
        (
            Method::PATCH,
            format!("/api/v1/crews/{crew_id}"),
            Some(json!({"daily_capacity": 9})),
            &["planner", "admin"],
        ),
        (
            Method::PATCH,
            "/api/v1/wards/1".into(),
            Some(json!({"vulnerability": 0.5})),
            &["planner", "admin"],
        ),
        (
            Method::DELETE,
            "/api/v1/services/no_such_service".into(),
            None,
            &["planner", "admin"],
        ),
        (
            Method::POST,
            "/api/v1/segments?id_field=STREET_ID&dry_run=true".into(),
            Some(json!({"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"STREET_ID": "X"},
                 "geometry": {"type": "LineString", "coordinates": [[-76.1, 43.0], [-76.099, 43.0]]}}]})),
            &["planner", "admin"],
        ),
    ];
    for (method, path, body, allowed) in &endpoints {
        for (role, key) in &keys {
            let (status, answer) = app
                .send_json(method.clone(), path, key.as_deref(), body.clone())
                .await;
            let expected_denial = match (allowed.contains(role), key) {
                (true, _) => None,
                (false, None) => Some(401),
                (false, Some(_)) => Some(403),
            };
            match expected_denial {
                Some(code) => {
                    assert_eq!(status, code, "{role} {method} {path}: {answer}");
                    assert!(
                        !answer["message"].as_str().unwrap_or_default().is_empty(),
                        "a denial says why: {role} {method} {path}"
                    );
                }
                None => assert!(
                    status < 400 || status == 409 || status == 404,
                    "{role} may {method} {path}, got {status}: {answer}"
                ),
            }
        }
    }
    // Retraining is for planners and admins too (covered with its run in risk.rs).
    let (status, _) = app
        .send_json(
            Method::POST,
            "/api/v1/models/train",
            Some(&app.crew_key(crew_id)),
            None,
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_crews_day_holds_each_order_once_in_route_order_within_its_capacity() {
    let app = spawn_tiny_city().await;
    let planner = app.issue_key(Role::Planner);
    let crews = app.get_json("/api/v1/crews", 200).await;
    let road = crews
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["service_codes"]
                .as_array()
                .unwrap()
                .contains(&json!("pothole"))
        })
        .expect("the demo city has road crews")
        .clone();
    let crew_id = road["id"].as_i64().unwrap();
    let capacity = road["daily_capacity"].as_u64().unwrap() as usize;
    // Residents report potholes along eight streets; each becomes a prioritised order.
    let city = models::city::generate(
        &models::city::CityParams::demo(42, CitySize::Tiny, backend::domain::now().date()),
        &mut |_| {},
    );
    for segment in city.segments.iter().step_by(11).take(8) {
        let (a, b) = (segment.geometry[0], segment.geometry[1]);
        app.submit(&pothole_at((a.1 + b.1) / 2.0, (a.0 + b.0) / 2.0))
            .await;
    }
    let open = app
        .wait_for(
            "/api/v1/work-orders?status=new&service_code=pothole&page_size=1000",
            |b| {
                b["total"].as_i64().unwrap_or(0) >= 8
                    && b["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|o| o["priority"].as_f64().unwrap() > 0.0)
            },
        )
        .await;
    for order in open["items"].as_array().unwrap() {
        assert_breakdown_sums_to_priority(order);
    }
    // Two of them become the crew's own.
    for order in open["items"].as_array().unwrap().iter().take(2) {
        let (status, body) = app
            .send_json(
                Method::PATCH,
                &format!("/api/v1/work-orders/{}", order["id"]),
                Some(&planner),
                Some(json!({"crew_id": crew_id})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let key = app.crew_key(crew_id);
    let depot = &road["depot"];
    let (status, day) = app
        .send_json(
            Method::GET,
            &format!(
                "/api/v1/crews/{crew_id}/day?lat={}&lon={}",
                depot["lat"], depot["lon"]
            ),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{day}");
    let orders = day["orders"].as_array().unwrap();
    assert!(orders.len() <= capacity.max(2));
    let mut ids: Vec<i64> = orders.iter().map(|o| o["id"].as_i64().unwrap()).collect();
    let stops: Vec<u64> = orders.iter().map(|o| o["stop"].as_u64().unwrap()).collect();
    assert_eq!(stops, (1..=orders.len() as u64).collect::<Vec<_>>());
    let own = orders
        .iter()
        .filter(|o| o["assigned_to_crew"] == true)
        .count();
    assert_eq!(own, 2, "both of its own orders are in its day: {day}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), orders.len(), "no order twice");
    // The stated length is the length of the route as listed.
    let mut at = (
        depot["lon"].as_f64().unwrap(),
        depot["lat"].as_f64().unwrap(),
    );
    let mut length = 0.0;
    for order in orders {
        let next = (
            order["lon"].as_f64().unwrap(),
            order["lat"].as_f64().unwrap(),
        );
        length += backend::domain::Coordinates {
            lon: at.0,
            lat: at.1,
        }
        .distance_m(backend::domain::Coordinates {
            lon: next.0,
            lat: next.1,
        });
        at = next;
    }
    assert!((day["route_length_m"].as_f64().unwrap() - length).abs() <= 1.0);
    assert!(day["priority_order_length_m"].as_f64().unwrap() >= 0.0);

    // A crew key sees only its own day; a planner sees any.
    let other = crews
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .find(|id| *id != crew_id)
        .unwrap();
    let (status, body) = app
        .send_json(
            Method::GET,
            &format!("/api/v1/crews/{other}/day"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app
        .send_json(
            Method::GET,
            &format!("/api/v1/crews/{other}/day"),
            Some(&planner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .send_json(
            Method::GET,
            &format!("/api/v1/crews/{crew_id}/day?lat=91&lon=0"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with("lat"));
}

#[tokio::test]
async fn planners_set_weights_and_every_open_order_is_reprioritised_by_them() {
    let app = spawn_tiny_city().await;
    let planner = app.issue_key(Role::Planner);
    let (status, body) = app
        .send_json(
            Method::PUT,
            "/api/v1/priority/weights",
            Some(&planner),
            Some(json!({"risk": -3})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with("risk"));
    let (status, body) = app
        .send_json(
            Method::PUT,
            "/api/v1/priority/weights",
            Some(&planner),
            Some(
                json!({"severity": 0, "risk": 0, "road_class": 100, "traffic": 0,
                        "reporters": 0, "age": 0, "vulnerability": 0}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = app.get_json("/api/v1/priority/weights", 200).await;
    assert_eq!(shown["weights"]["road_class"], 100.0);
    assert!(shown["set_by"].as_str().unwrap().starts_with("planner:"));
    // Only road class counts now: an arterial's order is worth 100, a local's 30.
    let open = app
        .wait_for("/api/v1/work-orders?status=new&page_size=1000", |b| {
            let items = b["items"].as_array().unwrap();
            !items.is_empty()
                && items.iter().all(|o| {
                    let parts = &o["priority_breakdown"];
                    parts["severity"] == 0.0 && parts["age"] == 0.0
                })
        })
        .await;
    for order in open["items"].as_array().unwrap() {
        assert_breakdown_sums_to_priority(order);
        let priority = order["priority"].as_f64().unwrap();
        assert!(
            [0.0, 30.0, 60.0, 100.0]
                .iter()
                .any(|p| (p - priority).abs() < 1e-6),
            "{order}"
        );
    }
}

#[tokio::test]
async fn inspections_go_to_the_riskiest_segments_without_an_open_order() {
    let app = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = CitySize::Tiny;
        s.inspections_per_crew_per_week = 0;
    })
    .await;
    let planner = app.issue_key(Role::Planner);
    let (status, body) = app
        .send_json(
            Method::POST,
            "/api/v1/inspections",
            Some(&planner),
            Some(json!({"budget": 3})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["planned"], 0, "no scores, nothing to plan: {body}");
    app.train_and_score().await;
    let (status, body) = app
        .send_json(
            Method::POST,
            "/api/v1/inspections",
            Some(&planner),
            Some(json!({"budget": 3})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["planned"], 3);
    let inspections = app
        .get_json("/api/v1/work-orders?kind=inspection", 200)
        .await;
    let segments: Vec<i64> = inspections["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["segment_id"].as_i64().unwrap())
        .collect();
    assert_eq!(segments.len(), 3);
    // They are the three riskiest segments that had no open order.
    let risk = app.get_json("/api/v1/risk?page_size=1000", 200).await;
    let mut ranked: Vec<(f64, i64)> = risk["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["probability"].as_f64().unwrap(),
                s["id"].as_i64().unwrap(),
            )
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let busy: Vec<i64> = app
        .get_json(
            "/api/v1/work-orders?kind=repair&status=new,assigned,in_progress&page_size=1000",
            200,
        )
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["segment_id"].as_i64())
        .collect();
    let expected: Vec<i64> = ranked
        .iter()
        .map(|(_, id)| *id)
        .filter(|id| !busy.contains(id))
        .take(3)
        .collect();
    let mut got = segments.clone();
    got.sort_unstable();
    let mut want = expected.clone();
    want.sort_unstable();
    assert_eq!(got, want);

    // Planning again picks other segments: those three now have open orders.
    let (_, again) = app
        .send_json(
            Method::POST,
            "/api/v1/inspections",
            Some(&planner),
            Some(json!({"budget": 2})),
        )
        .await;
    assert_eq!(again["planned"], 2);
    let all = app
        .get_json("/api/v1/work-orders?kind=inspection", 200)
        .await;
    let mut every: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["segment_id"].as_i64().unwrap())
        .collect();
    every.sort_unstable();
    every.dedup();
    assert_eq!(every.len(), 5);

    // An inspection that finds nothing leaves an inspection record, not a repair.
    let id = inspections["items"][0]["id"].as_i64().unwrap();
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/work-orders/{id}"),
            Some(&planner),
            Some(json!({"status": "completed", "outcome": "nothing_found"})),
        )
        .await;
    assert_eq!(status, 409, "a new order is not worked yet: {body}");
    let crews = app.get_json("/api/v1/crews", 200).await;
    let road = crews[0]["id"].as_i64().unwrap();
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/work-orders/{id}"),
            Some(&app.crew_key(road)),
            Some(json!({"crew_id": road})),
        )
        .await;
    assert_eq!(status, 200, "a crew takes an unassigned order: {body}");
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/work-orders/{id}"),
            Some(&app.crew_key(road)),
            Some(json!({"status": "completed", "outcome": "nothing_found"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.query_number(&format!(
            "SELECT COUNT(*) AS n FROM maintenance_history WHERE work_order_id = {id} AND kind = 'inspection'"
        )),
        1
    );
}

#[tokio::test]
async fn planner_statistics_count_every_issue_once_by_ward_and_category() {
    let app = spawn_tiny_city().await;
    let after = "2000-01-01T00:00:00Z";
    let stats = app
        .get_json(&format!("/api/v1/stats?reported_after={after}"), 200)
        .await;
    let items = stats["items"].as_array().unwrap();
    let counted: u64 = items
        .iter()
        .map(|i| i["open"].as_u64().unwrap() + i["closed"].as_u64().unwrap())
        .sum();
    assert_eq!(counted as i64, app.count_rows("issues"));
    assert!(
        items
            .iter()
            .all(|i| i["ward_id"].is_i64() || i["ward_id"].is_null())
    );
    let closed = items
        .iter()
        .find(|i| i["closed"].as_u64().unwrap() > 3)
        .expect("some group has closed issues");
    let (median, p90) = (
        closed["median_days_to_close"].as_f64().unwrap(),
        closed["p90_days_to_close"].as_f64().unwrap(),
    );
    assert!(0.0 <= median && median <= p90, "{closed}");
    let overdue: u64 = items
        .iter()
        .map(|i| i["overdue_orders"].as_u64().unwrap())
        .sum();
    let now = backend::domain::now().format("%Y-%m-%d %H:%M:%S");
    assert_eq!(
        overdue as i64,
        app.query_number(&format!(
            "SELECT COUNT(*) AS n FROM work_orders WHERE status IN ('new','assigned','in_progress') AND due_at < '{now}'"
        ))
    );

    let by_category = app
        .get_json(
            &format!("/api/v1/stats?group_by=service_code&reported_after={after}"),
            200,
        )
        .await;
    assert!(
        by_category["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["service_code"] == "pothole" && i.get("ward_id").is_none())
    );
    let map = app
        .get_json(
            &format!("/api/v1/stats?group_by=ward&format=geojson&reported_after={after}"),
            200,
        )
        .await;
    assert_eq!(map["type"], "FeatureCollection");
    assert_eq!(
        map["features"].as_array().unwrap().len() as i64,
        app.count_rows("wards")
    );
    assert!(map["features"][0]["properties"]["open"].is_u64());
    let bad = app.get_json("/api/v1/stats?group_by=street", 400).await;
    assert!(bad["message"].as_str().unwrap().starts_with("group_by"));
}

#[tokio::test]
async fn closing_a_report_directly_cancels_its_open_order_and_says_why() {
    let app = spawn_app().await;
    let planner = app.issue_key(Role::Planner);
    import_street(&app, &planner).await;
    let report = app.submit(&pothole_at(43.0501, -76.16)).await;
    let order = order_of_report(&app, &report).await;
    let response = app
        .change_status(
            &report,
            &planner,
            json!({"status": "closed", "status_notes": "Referred to the county"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let shown = app
        .get_json(&format!("/api/v1/work-orders/{}", order["id"]), 200)
        .await;
    assert_eq!(shown["status"], "cancelled");
    let history = shown["history"].as_array().unwrap();
    assert!(history.iter().any(|e| {
        e["field"] == "reason"
            && e["to"]
                .as_str()
                .unwrap()
                .contains("closed by a change to a report")
    }));
}

#[tokio::test]
async fn planners_change_crews_and_ward_vulnerability_and_priorities_follow() {
    let app = spawn_tiny_city().await;
    let planner = app.issue_key(Role::Planner);
    let crews = app.get_json("/api/v1/crews", 200).await;
    let (first, second) = (
        crews[0]["id"].as_i64().unwrap(),
        crews[1]["id"].as_i64().unwrap(),
    );
    let (status, changed) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/crews/{first}"),
            Some(&planner),
            Some(json!({"daily_capacity": 4, "depot_lat": 43.05, "depot_lon": -76.15})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["daily_capacity"], 4);
    assert_eq!(changed["depot"]["lon"], -76.15);
    let taken = crews[1]["name"].clone();
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/crews/{first}"),
            Some(&planner),
            Some(json!({"name": taken})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    for (bad, field) in [
        (json!({"daily_capacity": 0}), "daily_capacity"),
        (json!({"service_codes": ["nope"]}), "service_codes[0]"),
        (json!({"depot_lat": 43.0}), "depot_lon"),
        (json!({}), "body"),
    ] {
        let (status, body) = app
            .send_json(
                Method::PATCH,
                &format!("/api/v1/crews/{second}"),
                Some(&planner),
                Some(bad),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"].as_str().unwrap().starts_with(field),
            "{body}"
        );
    }
    let (status, retired) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/crews/{second}"),
            Some(&planner),
            Some(json!({"retired": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(retired["retired_at"].is_string());
    let active = app.get_json("/api/v1/crews", 200).await;
    assert!(active.as_array().unwrap().iter().all(|c| c["id"] != second));

    // Ward 1 becomes as vulnerable as can be: its open orders get the full weight.
    let (status, body) = app
        .send_json(
            Method::PATCH,
            "/api/v1/wards/1",
            Some(&planner),
            Some(json!({"vulnerability": 1.5})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .send_json(
            Method::PATCH,
            "/api/v1/wards/1",
            Some(&planner),
            Some(json!({"vulnerability": 1.0})),
        )
        .await;
    assert_eq!(status, 200);
    let wards = app.get_json("/api/v1/wards", 200).await;
    assert_eq!(wards["items"][0]["vulnerability"], 1.0);
    let weight = app.get_json("/api/v1/priority/weights", 200).await["weights"]["vulnerability"]
        .as_f64()
        .unwrap();
    let segments_in_ward_1: Vec<i64> = app
        .get_json("/api/v1/segments?ward_id=1&page_size=1000", 200)
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    app.wait_for("/api/v1/work-orders?status=new&page_size=1000", |b| {
        b["items"].as_array().unwrap().iter().any(|o| {
            o["segment_id"]
                .as_i64()
                .is_some_and(|s| segments_in_ward_1.contains(&s))
                && (o["priority_breakdown"]["vulnerability"].as_f64().unwrap() - weight).abs()
                    < 0.01
        })
    })
    .await;
}

#[tokio::test]
async fn a_crew_changes_the_status_only_of_reports_whose_order_is_its_own() {
    let app = spawn_app().await;
    let planner = app.issue_key(Role::Planner);
    import_street(&app, &planner).await;
    let roads = create_crew(&app, &planner, "North roads", &["pothole"]).await;
    let other = create_crew(&app, &planner, "South roads", &["pothole"]).await;
    let report = app.submit(&pothole_at(43.0501, -76.16)).await;
    let order = order_of_report(&app, &report).await;
    let (status, _) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/work-orders/{}", order["id"]),
            Some(&planner),
            Some(json!({"crew_id": roads})),
        )
        .await;
    assert_eq!(status, 200);

    // Another crew cannot close it, and so cannot cancel the order of the first.
    let denied = app
        .change_status(&report, &app.crew_key(other), json!({"status": "fixed"}))
        .await;
    assert_eq!(denied.status(), 403);
    let body: Value = denied.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("its own crew"),
        "{body}"
    );
    let shown = app
        .get_json(&format!("/api/v1/work-orders/{}", order["id"]), 200)
        .await;
    assert_eq!(shown["status"], "assigned", "the order stands");
    // A report with no order at all is no crew's either.
    let lone = app.submit(&pothole_at(43.0601, -76.20)).await;
    let denied = app
        .change_status(&lone, &app.crew_key(roads), json!({"status": "fixed"}))
        .await;
    assert_eq!(denied.status(), 403);

    // Its own crew may; planners may change any report.
    let allowed = app
        .change_status(
            &report,
            &app.crew_key(roads),
            json!({"status": "in_progress"}),
        )
        .await;
    assert_eq!(allowed.status(), 200);
    let allowed = app
        .change_status(&lone, &planner, json!({"status": "acknowledged"}))
        .await;
    assert_eq!(allowed.status(), 200);
}
