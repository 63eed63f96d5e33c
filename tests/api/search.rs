use crate::helpers::{TestApp, form, pothole_at, spawn_app};
use backend::domain::Role;
use serde_json::{Value, json};

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("a bare array")
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn close(app: &TestApp, id: &str) {
    let key = app.issue_key(Role::Planner);
    let response = app
        .change_status(
            id,
            &key,
            json!({"status": "fixed", "status_notes": "Patched"}),
        )
        .await;
    assert_eq!(response.status(), 200);
}

/// Moves `metres` north (positive) or south of a latitude.
fn north(lat: f64, metres: f64) -> f64 {
    lat + metres / 111_195.0
}

#[tokio::test]
async fn the_default_list_shows_recent_reports_newest_first() {
    let app = spawn_app().await;
    let first = app.submit(&pothole_at(43.05, -76.15)).await;
    let second = app.submit(&pothole_at(43.06, -76.15)).await;
    let body = app.get_json("/open311/v2/requests.json", 200).await;
    assert_eq!(ids(&body), [second, first]);
}

#[tokio::test]
async fn an_empty_list_is_an_empty_array_and_an_empty_xml_container() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_json("/open311/v2/requests.json", 200).await,
        json!([])
    );
    let xml = app.get_text("/open311/v2/requests.xml", 200).await;
    assert!(
        xml.ends_with("<service_requests></service_requests>"),
        "{xml}"
    );
}

#[tokio::test]
async fn requested_ids_override_every_other_filter() {
    let app = spawn_app().await;
    let a = app.submit(&pothole_at(43.05, -76.15)).await;
    let b = app.submit(&pothole_at(43.06, -76.15)).await;
    app.submit(&pothole_at(43.07, -76.15)).await;
    let body = app
        .get_json(&format!("/open311/v2/requests.json?service_request_id={a},{b},nonsense&status=closed&service_code=graffiti"), 200)
        .await;
    let mut found = ids(&body);
    found.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn reports_filter_by_service_code_and_status() {
    let app = spawn_app().await;
    let pothole = app.submit(&pothole_at(43.05, -76.15)).await;
    let fixed = app.submit(&pothole_at(43.06, -76.15)).await;
    let light = app
        .submit(&form(&[
            ("service_code", "street_light_out"),
            ("lat", "43.05"),
            ("long", "-76.15"),
            ("attribute[problem]", "off"),
        ]))
        .await;
    close(&app, &fixed).await;

    let body = app
        .get_json(
            "/open311/v2/requests.json?service_code=street_light_out",
            200,
        )
        .await;
    assert_eq!(ids(&body), [light.as_str()]);
    let body = app
        .get_json(
            "/open311/v2/requests.json?service_code=pothole,street_light_out&status=open",
            200,
        )
        .await;
    assert_eq!(ids(&body), [light.clone(), pothole.clone()]);
    let body = app
        .get_json("/open311/v2/requests.json?status=closed", 200)
        .await;
    assert_eq!(ids(&body), [fixed.as_str()]);
    assert_eq!(body[0]["status"], "closed");
    let body = app
        .get_json("/open311/v2/requests.json?status=open,closed", 200)
        .await;
    assert_eq!(ids(&body).len(), 3);
}

#[tokio::test]
async fn a_date_window_in_the_past_holds_none_of_todays_reports() {
    let app = spawn_app().await;
    let id = app.submit(&pothole_at(43.05, -76.15)).await;
    let body = app
        .get_json("/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z&end_date=2020-03-01T00:00:00Z", 200)
        .await;
    assert_eq!(body, json!([]));
    let today = chrono::Utc::now().date_naive();
    let body = app
        .get_json(
            &format!(
                "/open311/v2/requests.json?start_date={}",
                today - chrono::Duration::days(1)
            ),
            200,
        )
        .await;
    assert_eq!(ids(&body), [id.as_str()]);
    let body = app
        .get_json(
            &format!(
                "/open311/v2/requests.json?end_date={}",
                today + chrono::Duration::days(1)
            ),
            200,
        )
        .await;
    assert_eq!(ids(&body), [id]);
}

#[tokio::test]
async fn pages_split_the_list_without_overlap_and_a_page_past_the_end_is_empty() {
    let app = spawn_app().await;
    let mut submitted = Vec::new();
    for i in 0..5 {
        submitted.push(
            app.submit(&pothole_at(43.05 + f64::from(i) * 0.001, -76.15))
                .await,
        );
    }
    let mut seen = Vec::new();
    for (page, expected_len) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let body = app
            .get_json(
                &format!("/open311/v2/requests.json?page_size=2&page={page}"),
                200,
            )
            .await;
        let page_ids = ids(&body);
        assert_eq!(page_ids.len(), expected_len, "page {page}");
        seen.extend(page_ids);
    }
    submitted.reverse();
    assert_eq!(seen, submitted, "every report once, newest first");
}

#[tokio::test]
async fn a_bounding_box_holds_only_the_reports_inside_it() {
    let app = spawn_app().await;
    let inside = app.submit(&pothole_at(43.05, -76.15)).await;
    app.submit(&pothole_at(43.20, -76.15)).await;
    app.submit(&pothole_at(43.05, -76.40)).await;
    let body = app
        .get_json(
            "/open311/v2/requests.json?lat_ne=43.1&long_ne=-76.1&lat_sw=43.0&long_sw=-76.2",
            200,
        )
        .await;
    assert_eq!(ids(&body), [inside]);
}

#[tokio::test]
async fn a_radius_in_metres_holds_only_the_reports_within_it() {
    let app = spawn_app().await;
    let near = app.submit(&pothole_at(north(43.05, 100.0), -76.15)).await;
    let edge = app.submit(&pothole_at(north(43.05, 490.0), -76.15)).await;
    app.submit(&pothole_at(north(43.05, 520.0), -76.15)).await;
    app.submit(&pothole_at(north(43.05, -900.0), -76.15)).await;
    let body = app
        .get_json(
            "/open311/v2/requests.json?lat=43.05&long=-76.15&radius=500",
            200,
        )
        .await;
    assert_eq!(ids(&body), [edge.clone(), near.clone()]);
    let body = app
        .get_json(
            "/open311/v2/requests.json?lat=43.05&long=-76.15&radius=500&page_size=1&page=2",
            200,
        )
        .await;
    assert_eq!(ids(&body), [near]);
}

#[tokio::test]
async fn the_change_feed_filters_on_the_last_update() {
    let app = spawn_app().await;
    let id = app.submit(&pothole_at(43.05, -76.15)).await;
    let body = app
        .get_json(
            "/open311/v2/requests.json?updated_after=2020-01-01T00:00:00Z",
            200,
        )
        .await;
    assert_eq!(ids(&body), [id.as_str()]);
    let body = app
        .get_json(
            "/open311/v2/requests.json?updated_before=2020-01-01T00:00:00Z",
            200,
        )
        .await;
    assert_eq!(body, json!([]));
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = app
        .get_json(
            &format!(
                "/open311/v2/requests.json?updated_after={}",
                later.replace('+', "%2B")
            ),
            200,
        )
        .await;
    assert_eq!(body, json!([]));
}

#[tokio::test]
async fn extensions_add_extended_attributes_and_the_status_history() {
    let app = spawn_app().await;
    let id = app.submit(&pothole_at(43.05, -76.15)).await;
    let plain = app.get_json("/open311/v2/requests.json", 200).await;
    assert!(plain[0].get("notes").is_none() && plain[0].get("extended_attributes").is_none());
    let body = app
        .get_json("/open311/v2/requests.json?extensions=true", 200)
        .await;
    let request = &body[0];
    assert_eq!(request["service_request_id"], Value::String(id));
    let extended = &request["extended_attributes"];
    assert_eq!(extended["duplicate"], false);
    assert!(extended["parent_service_request_id"].is_null());
    assert_eq!(extended["attributes"]["size"], "medium");
    let notes = request["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["type"], "opened");
    assert_eq!(notes[0]["status"], "open");
    assert_eq!(notes[0]["author"], "resident");
}

#[tokio::test]
async fn the_list_in_xml_has_service_requests_and_request_elements() {
    let app = spawn_app().await;
    app.submit(&pothole_at(43.05, -76.15)).await;
    let xml = app
        .get_text("/open311/v2/requests.xml?extensions=true", 200)
        .await;
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request><service_request_id>"));
    assert!(xml.contains("<status_notes/>"));
    assert!(xml.contains("<address></address>"));
    assert!(xml.contains("<notes><note><type>opened</type>"));
    assert!(xml.contains("<extended_attributes><duplicate>false</duplicate>"));
}

#[tokio::test]
async fn a_listings_total_counts_the_rows_on_its_page_while_reports_arrive() {
    let app = spawn_app().await;
    let arriving = async {
        for i in 0..40 {
            app.submit(&pothole_at(43.05 + f64::from(i) * 0.0005, -76.15))
                .await;
        }
    };
    let listing = async {
        let mut listed = 0;
        loop {
            let body = app.get_json("/api/v1/reports?page_size=100", 200).await;
            let items = body["items"].as_array().expect("items").len();
            assert_eq!(
                body["total"], items,
                "the page and its total come from one moment"
            );
            listed += 1;
            if items == 40 {
                return listed;
            }
        }
    };
    let ((), listed) = tokio::join!(arriving, listing);
    assert!(listed > 1, "listed while reports arrived");
}
