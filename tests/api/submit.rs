use crate::helpers::{form, pothole_at, spawn_app, spawn_app_with};
use backend::domain::Role;
use serde_json::Value;

const REQUEST_KEYS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

#[tokio::test]
async fn a_resident_submits_a_pothole_and_gets_an_id_and_a_notice() {
    let app = spawn_app().await;
    let response = app
        .post_form("/open311/v2/requests.json", &pothole_at(43.05, -76.15))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let receipt = &body.as_array().expect("a bare array")[0];
    assert!(
        receipt["service_request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        receipt["service_notice"]
            .as_str()
            .unwrap()
            .contains("We aim to deal with it by")
    );
    assert!(receipt.as_object().unwrap().contains_key("account_id"));
}

#[tokio::test]
async fn a_stored_report_shows_every_open311_key_and_no_contact_details() {
    let app = spawn_app().await;
    let id = app.submit(&pothole_at(43.05, -76.15)).await;
    let body = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    let list = body.as_array().expect("a list of one");
    assert_eq!(list.len(), 1);
    let request = list[0].as_object().unwrap();
    for key in REQUEST_KEYS {
        assert!(request.contains_key(key), "{key} missing");
    }
    for private in ["email", "phone", "first_name", "last_name", "device_id"] {
        assert!(!request.contains_key(private), "{private} leaked");
    }
    assert!(!body.to_string().contains("resident@example.org"));
    assert_eq!(request["service_request_id"], Value::String(id));
    assert_eq!(request["status"], "open");
    assert_eq!(request["service_name"], "Pothole");
    assert_eq!(request["address"], "", "address is always a string");
    assert!(request["status_notes"].is_null());
    assert_eq!(request["lat"], 43.05);
    assert_eq!(request["long"], -76.15);
    let requested =
        chrono::DateTime::parse_from_rfc3339(request["requested_datetime"].as_str().unwrap())
            .unwrap();
    let expected =
        chrono::DateTime::parse_from_rfc3339(request["expected_datetime"].as_str().unwrap())
            .unwrap();
    // Off the road network the pothole's longest service level (10 days) applies.
    assert_eq!((expected - requested).num_days(), 10);
}

#[tokio::test]
async fn a_report_posted_to_the_xml_endpoint_is_answered_in_xml() {
    let app = spawn_app().await;
    let response = app
        .post_form("/open311/v2/requests.xml", &pothole_at(43.05, -76.15))
        .await;
    assert_eq!(response.status(), 200);
    let xml = response.text().await.unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request><service_request_id>"));
    assert!(xml.contains("<account_id/>"));
}

#[tokio::test]
async fn a_multi_value_answer_is_sent_as_repeated_bracketed_keys() {
    let app = spawn_app().await;
    let id = app
        .submit(&form(&[
            ("service_code", "illegal_dumping"),
            ("lat", "43.05"),
            ("long", "-76.15"),
            ("attribute[items][]", "furniture"),
            ("attribute[items][]", "tyres"),
            ("attribute[volume]", "4"),
        ]))
        .await;
    let request = app.request_with_extensions(&id).await;
    let answers = &request["extended_attributes"]["attributes"];
    assert_eq!(answers["items"], serde_json::json!(["furniture", "tyres"]));
    assert_eq!(answers["volume"], "4");
}

#[tokio::test]
async fn markup_and_sql_in_a_description_are_stored_and_returned_exactly() {
    let app = spawn_app().await;
    let text = "<script>alert('x')</script> '; DROP TABLE requests; -- & \u{1F573} \"quoted\"";
    let mut report = pothole_at(43.05, -76.15);
    report.retain(|(k, _)| k != "description");
    report.push(("description".into(), text.into()));
    let id = app.submit(&report).await;
    let body = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    assert_eq!(body[0]["description"], text);
    let xml = app
        .get_text(&format!("/open311/v2/requests/{id}.xml"), 200)
        .await;
    assert!(
        xml.contains("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;")
            || xml.contains("&lt;script&gt;alert('x')&lt;/script&gt;")
    );
    assert!(!xml.contains("<script>"));
    assert_eq!(app.count_rows("requests"), 1);
}

#[tokio::test]
async fn a_report_may_be_located_by_address_alone() {
    let app = spawn_app().await;
    let id = app
        .submit(&form(&[
            ("service_code", "street_light_out"),
            ("address_string", "12 Elm Street"),
            ("attribute[problem]", "off"),
        ]))
        .await;
    let body = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    assert_eq!(body[0]["address"], "12 Elm Street");
    assert!(body[0]["lat"].is_null() && body[0]["long"].is_null());
}

#[tokio::test]
async fn the_account_id_sent_is_echoed_in_the_receipt() {
    let app = spawn_app().await;
    let mut report = pothole_at(43.05, -76.15);
    report.push(("account_id".into(), "acct-42".into()));
    let response = app.post_form("/open311/v2/requests.json", &report).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body[0]["account_id"], "acct-42");
}

#[tokio::test]
async fn when_keys_are_required_a_post_needs_a_valid_one_in_the_body_or_query() {
    let app = spawn_app_with(|s| s.require_api_key = true).await;
    let key = app.issue_key(Role::Client);

    let missing = app
        .post_form("/open311/v2/requests.json", &pothole_at(43.05, -76.15))
        .await;
    assert_eq!(missing.status(), 403);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body[0]["code"], 403);
    assert!(body[0]["description"].as_str().unwrap().contains("api_key"));

    let mut wrong = pothole_at(43.05, -76.15);
    wrong.push(("api_key".into(), "upk_not_a_key".into()));
    assert_eq!(
        app.post_form("/open311/v2/requests.json", &wrong)
            .await
            .status(),
        403
    );

    let mut in_body = pothole_at(43.05, -76.15);
    in_body.push(("api_key".into(), key.clone()));
    assert_eq!(
        app.post_form("/open311/v2/requests.json", &in_body)
            .await
            .status(),
        200
    );

    let in_query = app
        .post_form(
            &format!("/open311/v2/requests.json?api_key={key}"),
            &pothole_at(43.05, -76.15),
        )
        .await;
    assert_eq!(in_query.status(), 200);
    assert_eq!(app.count_rows("requests"), 2);
}

#[tokio::test]
async fn an_open_server_accepts_reports_without_a_key_but_refuses_a_bad_one() {
    let app = spawn_app().await;
    app.submit(&pothole_at(43.05, -76.15)).await;
    assert_eq!(app.count_rows("requests"), 1);
    let mut wrong = pothole_at(43.05, -76.15);
    wrong.push(("api_key".into(), "upk_not_a_key".into()));
    let refused = app.post_form("/open311/v2/requests.json", &wrong).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body[0]["description"]
            .as_str()
            .unwrap()
            .contains("send none"),
        "{body}"
    );
    assert_eq!(app.count_rows("requests"), 1, "nothing stored");
}
