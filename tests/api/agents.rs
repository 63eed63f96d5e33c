//! Assisted reports: agents file reports for residents who phone or come to a counter,
//! with the channel; statistics count reports by channel.

use crate::helpers::{pothole_at, spawn_app};
use backend::domain::Role;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn only_agents_name_a_channel_and_every_report_is_counted_by_how_it_came() {
    let app = spawn_app().await;
    let agent = app.issue_key(Role::Agent);
    let client = app.issue_key(Role::Client);
    let post = |extra: Vec<(&str, String)>| {
        let mut form = pothole_at(43.05, -76.15);
        form.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let app = &app;
        async move { app.post_form("/open311/v2/requests.json", &form).await }
    };
    for (extra, wanted) in [
        (
            vec![("api_key", client.clone()), ("channel", "phone".into())],
            "set only by agent keys",
        ),
        (
            vec![("channel", "counter".into())],
            "set only by agent keys",
        ),
        (
            vec![("api_key", agent.clone())],
            "required with an agent key",
        ),
        (
            vec![("api_key", agent.clone()), ("channel", "fax".into())],
            "'fax' is not phone or counter",
        ),
    ] {
        let response = post(extra).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body.to_string().contains(wanted), "{wanted}: {body}");
        assert!(body.to_string().contains("channel"), "{body}");
    }
    for extra in [
        vec![],
        vec![("api_key", client.clone())],
        vec![("api_key", agent.clone()), ("channel", "phone".into())],
        vec![("api_key", agent.clone()), ("channel", "counter".into())],
        vec![("api_key", agent.clone()), ("channel", "counter".into())],
    ] {
        assert_eq!(post(extra).await.status(), 200);
    }
    let listed = app
        .get_json("/open311/v2/requests.json?extensions=true", 200)
        .await;
    let mut channels: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["extended_attributes"]["channel"].as_str().unwrap())
        .collect();
    channels.sort_unstable();
    assert_eq!(channels, ["app", "counter", "counter", "phone", "web"]);

    let planner = app.issue_key(Role::Planner);
    let (status, stats) = app
        .send_json(Method::GET, "/api/v1/stats/channels", Some(&planner), None)
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["city"]["counter"], 2, "{stats}");
    assert_eq!(stats["city"]["phone"], 1, "{stats}");
    assert_eq!(stats["city"]["web"], 1, "{stats}");
    assert_eq!(stats["city"]["app"], 1, "{stats}");
    let (status, _) = app
        .send_json(Method::GET, "/api/v1/stats/channels", Some(&agent), None)
        .await;
    assert_eq!(status, 403, "agents file reports; planners read statistics");
    let (status, body) = app
        .send_json(
            Method::GET,
            "/api/v1/stats/channels?days=0",
            Some(&planner),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // An agent files reports and changes nothing else.
    let id = listed[0]["service_request_id"].as_str().unwrap().to_owned();
    let response = app
        .change_status(&id, &agent, serde_json::json!({"status": "closed"}))
        .await;
    assert_eq!(response.status(), 403);
}
