use crate::helpers::{form, pothole_at, spawn_app, spawn_app_with};
use backend::domain::Role;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn staff_status_changes_reach_the_resident_as_status_notes_and_history() {
    let app = spawn_app().await;
    let id = app.submit(&pothole_at(43.05, -76.15)).await;
    let key = app.issue_key(Role::Planner);

    let response = app
        .change_status(
            &id,
            &key,
            json!({"status": "in_progress", "status_notes": "Crew on the way"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    assert_eq!(body[0]["status"], "open");
    assert_eq!(body[0]["status_notes"], "Crew on the way");

    app.change_status(
        &id,
        &key,
        json!({"status": "fixed", "status_notes": "Filled with hot asphalt"}),
    )
    .await;
    let request = app.request_with_extensions(&id).await;
    assert_eq!(request["status"], "closed");
    assert_eq!(request["status_notes"], "Filled with hot asphalt");
    assert_eq!(request["extended_attributes"]["internal_status"], "fixed");
    let notes = request["notes"].as_array().unwrap();
    let statuses: Vec<_> = notes
        .iter()
        .map(|n| n["internal_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["open", "in_progress", "fixed"]);
    assert_eq!(notes[2]["author"], "staff", "staff names stay internal");
    assert!(
        request["updated_datetime"].as_str().unwrap()
            >= request["requested_datetime"].as_str().unwrap()
    );
}

#[tokio::test]
async fn the_update_feed_lists_every_status_change_with_its_own_id() {
    let app = spawn_app().await;
    let id = app.submit(&pothole_at(43.05, -76.15)).await;
    let key = app.issue_key(Role::Planner);
    app.change_status(
        &id,
        &key,
        json!({"status": "nothing_found", "status_notes": "No defect at this spot"}),
    )
    .await;
    let feed = app
        .get_json("/open311/v2/servicerequestupdates.json", 200)
        .await;
    let feed = feed.as_array().unwrap();
    assert_eq!(feed.len(), 2);
    for update in feed {
        for key in [
            "update_id",
            "service_request_id",
            "status",
            "updated_datetime",
            "description",
            "media_url",
        ] {
            assert!(update.as_object().unwrap().contains_key(key), "{key}");
        }
        assert_eq!(update["service_request_id"], Value::String(id.clone()));
    }
    assert_ne!(feed[0]["update_id"], feed[1]["update_id"]);
    assert_eq!(feed[1]["status"], "closed");
    assert_eq!(feed[1]["description"], "No defect at this spot");
    let xml = app
        .get_text("/open311/v2/servicerequestupdates.xml", 200)
        .await;
    assert!(xml.contains("<service_request_updates><request_update><update_id>"));
    let old = app
        .get_json(
            "/open311/v2/servicerequestupdates.json?start_date=2020-01-01&end_date=2020-02-01",
            200,
        )
        .await;
    assert_eq!(old, json!([]));
    let body = app
        .get_json(
            "/open311/v2/servicerequestupdates.json?start_date=2020-01-01&end_date=2021-01-01",
            400,
        )
        .await;
    assert!(
        body[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("end_date")
    );
}

#[tokio::test]
async fn changing_a_status_needs_a_staff_key_and_a_known_status() {
    let app = spawn_app().await;
    let id = app.submit(&pothole_at(43.05, -76.15)).await;
    let unauthenticated = app
        .client
        .post(app.url(&format!("/api/v1/requests/{id}/status")))
        .json(&json!({"status": "fixed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let body: Value = unauthenticated.json().await.unwrap();
    assert_eq!(body["error"], "unauthenticated");

    let client_key = app.issue_key(Role::Client);
    let forbidden = app
        .change_status(&id, &client_key, json!({"status": "fixed"}))
        .await;
    assert_eq!(forbidden.status(), 403);

    let staff = app.issue_key(Role::Admin);
    let bad = app
        .change_status(&id, &staff, json!({"status": "teleported"}))
        .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("teleported"));
    let malformed = app
        .change_status(&id, &staff, json!({"state": "fixed"}))
        .await;
    assert_eq!(malformed.status(), 400);
    let missing = app
        .change_status("9999", &staff, json!({"status": "fixed"}))
        .await;
    assert_eq!(missing.status(), 404);
    let body = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    assert_eq!(body[0]["status"], "open", "nothing changed");
}

fn missed_bin() -> Vec<(String, String)> {
    form(&[
        ("service_code", "missed_collection"),
        ("address_string", "4 Oak Road"),
        ("attribute[bin]", "recycling"),
    ])
}

#[tokio::test]
async fn a_batch_service_answers_with_a_token_that_later_yields_an_id() {
    let app = spawn_app_with(|s| s.batch_accept_delay_seconds = 0).await;
    let response = app
        .post_form("/open311/v2/requests.json", &missed_bin())
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = body[0]["token"].as_str().expect("a token").to_owned();
    assert!(body[0].get("service_request_id").is_none());

    let mut id = Value::Null;
    for _ in 0..50 {
        let answer = app
            .get_json(&format!("/open311/v2/tokens/{token}.json"), 200)
            .await;
        assert_eq!(answer[0]["token"], token.as_str());
        id = answer[0]["service_request_id"].clone();
        if !id.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = id.as_str().expect("the queued request was accepted");
    let request = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    assert_eq!(request[0]["service_code"], "missed_collection");
    let xml = app
        .get_text(&format!("/open311/v2/tokens/{token}.xml"), 200)
        .await;
    assert!(xml.contains(&format!("<service_requests><request><service_request_id>{id}</service_request_id><token>{token}</token>")));
}

#[tokio::test]
async fn a_queued_batch_request_is_not_listed_until_it_is_accepted() {
    let app = spawn_app_with(|s| s.batch_accept_delay_seconds = 3600).await;
    let response = app
        .post_form("/open311/v2/requests.json", &missed_bin())
        .await;
    let body: Value = response.json().await.unwrap();
    let token = body[0]["token"].as_str().unwrap();
    let answer = app
        .get_json(&format!("/open311/v2/tokens/{token}.json"), 200)
        .await;
    assert!(answer[0]["service_request_id"].is_null());
    assert_eq!(
        app.get_json("/open311/v2/requests.json", 200).await,
        json!([])
    );
    app.get_json("/open311/v2/tokens/no-such-token.json", 404)
        .await;
}
