use crate::helpers::{TestApp, form, pothole_at, spawn_app};
use backend::domain::Role;
use serde_json::{Value, json};

/// Moves `metres` north of a latitude.
fn north(lat: f64, metres: f64) -> f64 {
    lat + metres / 111_195.0
}

async fn post(app: &TestApp, pairs: &[(String, String)]) -> Value {
    let response = app.post_form("/open311/v2/requests.json", pairs).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn extended(app: &TestApp, id: &str) -> Value {
    app.request_with_extensions(id).await["extended_attributes"].clone()
}

fn with_email(mut pairs: Vec<(String, String)>, email: &str) -> Vec<(String, String)> {
    pairs.retain(|(k, _)| k != "email");
    pairs.push(("email".into(), email.into()));
    pairs
}

#[tokio::test]
async fn a_second_report_nearby_joins_the_open_issue_and_the_resident_is_told() {
    let app = spawn_app().await;
    let first = app.submit(&pothole_at(43.05, -76.15)).await;
    let answer = post(
        &app,
        &with_email(pothole_at(north(43.05, 15.0), -76.15), "other@example.org"),
    )
    .await;
    let second = answer[0]["service_request_id"].as_str().unwrap().to_owned();
    let notice = answer[0]["service_notice"].as_str().unwrap();
    assert!(
        notice.contains("already been reported") && notice.contains(&first),
        "{notice}"
    );

    let duplicate = extended(&app, &second).await;
    assert_eq!(duplicate["duplicate"], true);
    assert_eq!(duplicate["parent_service_request_id"], first.as_str());
    let original = extended(&app, &first).await;
    assert_eq!(original["duplicate"], false);
    assert!(original["parent_service_request_id"].is_null());
    assert_eq!(app.count_rows("issues"), 1);
    assert_eq!(
        app.query_number("SELECT CAST(reporter_count AS BIGINT) AS n FROM issues"),
        2
    );

    // The same resident again is one more report, not one more reporter.
    post(
        &app,
        &with_email(pothole_at(north(43.05, 5.0), -76.15), "other@example.org"),
    )
    .await;
    assert_eq!(
        app.query_number("SELECT CAST(reporter_count AS BIGINT) AS n FROM issues"),
        2
    );
    assert_eq!(app.count_rows("requests"), 3);
}

#[tokio::test]
async fn reports_join_only_within_the_radius_and_only_the_same_service() {
    let app = spawn_app().await;
    app.submit(&pothole_at(43.05, -76.15)).await;
    // Potholes join within 25 m: 40 m away is a new problem.
    let far = post(&app, &pothole_at(north(43.05, 40.0), -76.15)).await;
    assert!(
        !far[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains("already")
    );
    // A street light at the very same spot is another problem.
    let light = form(&[
        ("service_code", "street_light_out"),
        ("lat", "43.05"),
        ("long", "-76.15"),
        ("attribute[problem]", "off"),
    ]);
    let light = post(&app, &light).await;
    let light_id = light[0]["service_request_id"].as_str().unwrap().to_owned();
    assert_eq!(extended(&app, &light_id).await["duplicate"], false);
    assert_eq!(app.count_rows("issues"), 3);
}

#[tokio::test]
async fn once_an_issue_is_closed_a_new_report_there_starts_a_new_one() {
    let app = spawn_app().await;
    let first = app.submit(&pothole_at(43.05, -76.15)).await;
    let key = app.issue_key(Role::Planner);
    let response = app
        .change_status(
            &first,
            &key,
            json!({"status": "fixed", "status_notes": "Patched"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let again = app.submit(&pothole_at(43.05, -76.15)).await;
    assert_eq!(extended(&app, &again).await["duplicate"], false);
    assert_eq!(app.count_rows("issues"), 2);
}

#[tokio::test]
async fn reports_without_a_position_and_queued_requests_join_nothing() {
    let app = spawn_app().await;
    let by_address = form(&[
        ("service_code", "graffiti"),
        ("address_string", "Town hall"),
        ("attribute[offensive]", "no"),
    ]);
    app.submit(&by_address).await;
    app.submit(&by_address).await;
    assert_eq!(app.count_rows("issues"), 0);
}

#[tokio::test]
async fn anyone_can_ask_what_is_already_reported_nearby_before_reporting() {
    let app = spawn_app().await;
    let first = app.submit(&pothole_at(43.05, -76.15)).await;
    app.submit(&pothole_at(north(43.05, 400.0), -76.15)).await;
    let near = app
        .get_json(
            &format!(
                "/api/v1/issues/nearby?lat={}&lon=-76.15",
                north(43.05, 100.0)
            ),
            200,
        )
        .await;
    let near = near.as_array().unwrap();
    assert_eq!(near.len(), 1, "the one 400 m away is beyond 250 m");
    assert_eq!(near[0]["service_code"], "pothole");
    assert_eq!(near[0]["first_service_request_id"], first.as_str());
    let distance = near[0]["distance_m"].as_f64().unwrap();
    assert!((distance - 100.0).abs() < 1.0, "{distance}");
    let wider = app
        .get_json(
            "/api/v1/issues/nearby?lat=43.05&lon=-76.15&radius_m=1000",
            200,
        )
        .await;
    assert_eq!(wider.as_array().unwrap().len(), 2);
    let lights = app
        .get_json(
            "/api/v1/issues/nearby?lat=43.05&lon=-76.15&service_code=street_light_out",
            200,
        )
        .await;
    assert_eq!(lights, json!([]));
    for bad in [
        "lat=43.05",
        "lat=95&lon=0",
        "lat=43&lon=-76&radius_m=-1",
        "lat=43&lon=-76&radius_m=99999",
    ] {
        let body = app
            .get_json(&format!("/api/v1/issues/nearby?{bad}"), 400)
            .await;
        assert_eq!(body["error"], "invalid_parameter", "{bad}");
    }
}
