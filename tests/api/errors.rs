use crate::helpers::{form, pothole_at, spawn_app, spawn_app_with};
use serde_json::Value;

/// POSTs a form and returns the status and the descriptions of the errors.
async fn post_errors(
    app: &crate::helpers::TestApp,
    pairs: &[(String, String)],
) -> (u16, Vec<String>) {
    let response = app.post_form("/open311/v2/requests.json", pairs).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    let descriptions = body
        .as_array()
        .expect("errors are a bare array")
        .iter()
        .map(|e| {
            assert_eq!(e["code"], status, "each error carries the status");
            e["description"].as_str().unwrap().to_owned()
        })
        .collect();
    (status, descriptions)
}

fn without(mut pairs: Vec<(String, String)>, key: &str) -> Vec<(String, String)> {
    pairs.retain(|(k, _)| k != key);
    pairs
}

fn with(mut pairs: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    pairs.retain(|(k, _)| k != key);
    pairs.push((key.into(), value.into()));
    pairs
}

#[tokio::test]
async fn a_report_without_a_service_code_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let (status, errors) =
        post_errors(&app, &without(pothole_at(43.05, -76.15), "service_code")).await;
    assert_eq!(status, 400);
    assert!(errors[0].starts_with("service_code"), "{errors:?}");
}

#[tokio::test]
async fn a_report_for_an_unknown_service_is_not_found() {
    let app = spawn_app().await;
    let (status, errors) = post_errors(
        &app,
        &with(pothole_at(43.05, -76.15), "service_code", "unicorns"),
    )
    .await;
    assert_eq!(status, 404);
    assert!(errors[0].contains("unicorns"));
}

#[tokio::test]
async fn a_report_without_any_location_is_refused() {
    let app = spawn_app().await;
    let report = without(without(pothole_at(43.05, -76.15), "lat"), "long");
    let (status, errors) = post_errors(&app, &report).await;
    assert_eq!(status, 400);
    assert!(errors[0].contains("a location is required"), "{errors:?}");
}

#[tokio::test]
async fn coordinates_off_the_globe_or_not_numbers_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let (status, errors) = post_errors(&app, &with(pothole_at(43.05, -76.15), "lat", "91.5")).await;
    assert_eq!(status, 400);
    assert!(errors[0].starts_with("lat:"), "{errors:?}");
    let (_, errors) = post_errors(&app, &with(pothole_at(43.05, -76.15), "long", "east")).await;
    assert!(errors[0].starts_with("long:"), "{errors:?}");
    let (_, errors) = post_errors(&app, &with(pothole_at(43.05, -76.15), "long", "inf")).await;
    assert!(errors[0].starts_with("long:"), "{errors:?}");
}

#[tokio::test]
async fn a_report_outside_the_city_is_refused() {
    let app = spawn_app_with(|s| s.city_bounds = Some([-76.3, 42.9, -76.0, 43.2])).await;
    let (status, errors) = post_errors(&app, &pothole_at(51.5, -0.12)).await;
    assert_eq!(status, 400);
    assert!(errors[0].contains("outside the area"), "{errors:?}");
}

#[tokio::test]
async fn attribute_answers_are_checked_and_every_problem_is_listed() {
    let app = spawn_app().await;
    let report = with(
        without(pothole_at(43.05, -76.15), "attribute[in_traffic_lane]"),
        "attribute[size]",
        "enormous",
    );
    let report = with(report, "attribute[colour]", "red");
    let (status, errors) = post_errors(&app, &report).await;
    assert_eq!(status, 400);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("attribute[size]") && e.contains("small, medium, large"))
    );
    assert!(errors.iter().any(|e| e.starts_with("attribute[colour]")));
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("attribute[in_traffic_lane]") && e.contains("required"))
    );
}

#[tokio::test]
async fn a_description_over_4000_characters_is_refused() {
    let app = spawn_app().await;
    let long = "é".repeat(4001);
    let (status, errors) =
        post_errors(&app, &with(pothole_at(43.05, -76.15), "description", &long)).await;
    assert_eq!(status, 400);
    assert!(errors[0].starts_with("description"));
    let exactly = "é".repeat(4000);
    app.submit(&with(pothole_at(43.05, -76.15), "description", &exactly))
        .await;
}

#[tokio::test]
async fn malformed_contact_details_are_refused() {
    let app = spawn_app().await;
    let (status, errors) = post_errors(
        &app,
        &with(pothole_at(43.05, -76.15), "email", "not-an-address"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(errors[0].starts_with("email"));
    let (_, errors) = post_errors(&app, &with(pothole_at(43.05, -76.15), "phone", "call me")).await;
    assert!(errors[0].starts_with("phone"));
    let (_, errors) = post_errors(
        &app,
        &with(
            pothole_at(43.05, -76.15),
            "media_url",
            "javascript:alert(1)",
        ),
    )
    .await;
    assert!(errors[0].starts_with("media_url"));
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let app = spawn_app_with(|s| s.body_limit_bytes = 2048).await;
    let big = "x".repeat(3000);
    let response = app
        .post_form(
            "/open311/v2/requests.json",
            &with(pothole_at(43.05, -76.15), "description", &big),
        )
        .await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body[0]["code"], 413);
}

#[tokio::test]
async fn a_body_of_another_type_is_refused_with_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .json(&serde_json::json!({"service_code": "pothole"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn failed_submissions_leave_no_row_behind() {
    let app = spawn_app().await;
    post_errors(
        &app,
        &with(pothole_at(43.05, -76.15), "attribute[size]", "enormous"),
    )
    .await;
    post_errors(&app, &with(pothole_at(43.05, -76.15), "lat", "200")).await;
    post_errors(
        &app,
        &with(pothole_at(43.05, -76.15), "service_code", "unicorns"),
    )
    .await;
    for table in ["requests", "request_updates", "media"] {
        assert_eq!(app.count_rows(table), 0, "{table}");
    }
}

#[tokio::test]
async fn errors_in_xml_use_errors_and_error_elements() {
    let app = spawn_app().await;
    let response = app
        .post_form(
            "/open311/v2/requests.xml",
            &form(&[("service_code", "pothole")]),
        )
        .await;
    assert_eq!(response.status(), 400);
    let xml = response.text().await.unwrap();
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<errors><error><code>400</code><description>"
    ));
}

#[tokio::test]
async fn bad_search_parameters_are_refused_naming_each_one() {
    let app = spawn_app().await;
    let cases = [
        ("start_date=yesterday", "start_date"),
        (
            "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            "end_date",
        ),
        (
            "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "start_date",
        ),
        ("status=pending", "status"),
        ("lat_ne=43.1&long_ne=-76.1", "lat_sw"),
        (
            "lat_ne=43.0&long_ne=-76.1&lat_sw=43.1&long_sw=-76.2",
            "lat_sw",
        ),
        ("radius=500", "lat"),
        ("lat=43.05&long=-76.15", "radius"),
        ("lat=43.05&long=-76.15&radius=-5", "radius"),
        ("lat=43.05&long=-76.15&radius=1e9", "radius"),
        ("page=0", "page"),
        ("page_size=100000", "page_size"),
        ("extensions=maybe", "extensions"),
        ("updated_after=soon", "updated_after"),
    ];
    for (query, field) in cases {
        let body = app
            .get_json(&format!("/open311/v2/requests.json?{query}"), 400)
            .await;
        let description = body[0]["description"].as_str().unwrap();
        assert!(description.starts_with(field), "{query}: {description}");
    }
}

#[tokio::test]
async fn an_unknown_request_is_not_found_in_either_format() {
    let app = spawn_app().await;
    let body = app.get_json("/open311/v2/requests/999.json", 404).await;
    assert_eq!(body[0]["code"], 404);
    app.get_json("/open311/v2/requests/not-a-number.json", 404)
        .await;
    let xml = app.get_text("/open311/v2/requests/999.xml", 404).await;
    assert!(xml.contains("<errors><error><code>404</code>"));
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    let body = app.get_json("/nowhere", 404).await;
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn a_method_a_resource_does_not_serve_is_a_json_405() {
    let app = spawn_app().await;
    let response = app
        .client
        .delete(app.url("/open311/v2/requests.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    // The native API names its methods from the document that describes them.
    let response = app
        .client
        .request(reqwest::Method::TRACE, app.url("/api/v1/crews/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, PATCH");
}

#[tokio::test]
async fn wards_without_counts_are_boundaries_only_and_a_bad_flag_is_refused() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
    })
    .await;
    let bare = app.get_json("/api/v1/wards?counts=false", 200).await;
    let ward = &bare["items"][0];
    assert!(ward["name"].is_string() && ward["geometry"].is_object());
    assert!(ward.get("reports").is_none());
    let counted = app.get_json("/api/v1/wards", 200).await;
    assert!(counted["items"][0]["reports"].is_i64());
    let bad = app.get_json("/api/v1/wards?counts=maybe", 400).await;
    assert!(bad["message"].as_str().unwrap().starts_with("counts"));
}

/// Breaks the test server's database on purpose so that it takes no writes, or mends it.
/// SQLite: the server's one writer connection becomes query-only. PostgreSQL: new
/// sessions of the database are read-only (as on a standby), and the server's sessions
/// are ended so that its pool reconnects into read-only ones.
fn refuse_writes(app: &crate::helpers::TestApp, refuse: bool) {
    use backend::config::DatabaseUrl;
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    match &app.database_url {
        DatabaseUrl::Postgres(url) => {
            let mut conn = diesel::pg::PgConnection::establish(url).expect("a session");
            let setting = if refuse {
                "SET default_transaction_read_only = on"
            } else {
                "RESET default_transaction_read_only"
            };
            // This session may itself have started read-only: it lifts that for itself
            // first (a statement of its own, as a read-only transaction stays so).
            conn.batch_execute("SET default_transaction_read_only = off")
                .expect("a writable session");
            conn.batch_execute(&format!(
                "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I {setting}', current_database()); END $$; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid();"
            ))
            .expect("alter the database");
        }
        DatabaseUrl::Sqlite(_) => unreachable!("PostgreSQL only"),
    }
}

#[tokio::test]
async fn a_database_that_takes_no_writes_gives_a_503_saying_nothing_was_saved_and_recovers() {
    let app = spawn_app().await;
    if !app.on_postgres() {
        // A SQLite writer that fails is replaced by a fresh connection at once, so a
        // refusal set on one connection does not last: the read-only file is in
        // `fair_load`.
        return;
    }
    let planner = app.issue_key(backend::domain::Role::Planner);
    let before = app.count_rows("requests");
    refuse_writes(&app, true);
    let (status, errors) = post_errors(&app, &pothole_at(43.05, -76.15)).await;
    assert_eq!(status, 503, "{errors:?}");
    assert!(
        errors[0].contains("read-only") && errors[0].contains("nothing was saved"),
        "{errors:?}"
    );
    // The native API answers the same way.
    let (status, body) = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/priority/weights",
            Some(&planner),
            Some(serde_json::json!({"severity": 31.0})),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "server_error");
    refuse_writes(&app, false);
    app.submit(&pothole_at(43.05, -76.15)).await;
    assert_eq!(
        app.count_rows("requests"),
        before + 1,
        "only the later report"
    );
}

#[tokio::test]
async fn control_characters_are_refused_in_every_field_parameter_path_and_json_string() {
    let app = spawn_app().await;
    // A form field of a report, in either format: 400 naming it, nothing stored.
    let mut report = crate::helpers::pothole_at(43.05, -76.15);
    report.push(("description".into(), "deep\u{0} hole".into()));
    for format in ["json", "xml"] {
        let refused = app
            .post_form(&format!("/open311/v2/requests.{format}"), &report)
            .await;
        assert_eq!(refused.status(), 400);
        let text = refused.text().await.unwrap();
        assert!(
            text.contains("description") && text.contains("U+0000"),
            "{text}"
        );
    }
    assert_eq!(app.count_rows("requests"), 0);

    // A query parameter and a path segment, Open311 and native alike.
    for (path, named) in [
        ("/open311/v2/requests.json?status=open%1B", "status"),
        ("/open311/v2/requests/1%00.json", "path"),
        ("/api/v1/segments?name=Main%07", "name"),
    ] {
        let refused = app.get(path).await;
        assert_eq!(refused.status(), 400, "{path}");
        let text = refused.text().await.unwrap();
        assert!(
            text.contains(named) && text.contains("control character"),
            "{path}: {text}"
        );
    }

    // Every string of a JSON body, nested ones named by their place.
    let planner = app.issue_key(backend::domain::Role::Planner);
    let new_crew = |name: &str, codes: &[&str]| {
        let body = serde_json::json!({"name": name, "depot_lat": 43.05, "depot_lon": -76.16,
            "service_codes": codes, "daily_capacity": 5});
        app.send_json(
            reqwest::Method::POST,
            "/api/v1/crews",
            Some(&planner),
            Some(body),
        )
    };
    let (status, body) = new_crew("North", &["pothole", "graffiti\u{1b}[31m"]).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("service_codes[1]"), "{body}");
    assert_eq!(app.count_rows("crews"), 0);
    // Tab, carriage return and line feed are text, not control.
    let (status, body) = new_crew("North\tdepot", &["pothole"]).await;
    assert_eq!(status, 201, "{body}");
}
