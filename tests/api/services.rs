use crate::helpers::{spawn_app, spawn_app_with};
use serde_json::Value;

#[tokio::test]
async fn the_service_list_is_a_bare_array_with_every_open311_field() {
    let app = spawn_app().await;
    let response = app.get("/open311/v2/services.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let services: Value = response.json().await.unwrap();
    let services = services.as_array().expect("a bare array");
    assert!(services.len() >= 10);
    for service in services {
        for key in [
            "service_code",
            "service_name",
            "description",
            "type",
            "keywords",
            "group",
        ] {
            assert!(service[key].is_string(), "{key} in {service}");
        }
        assert!(service["metadata"].is_boolean());
        assert!(["realtime", "batch", "blackbox"].contains(&service["type"].as_str().unwrap()));
    }
    let pothole = services
        .iter()
        .find(|s| s["service_code"] == "pothole")
        .unwrap();
    assert_eq!(pothole["metadata"], true);
    assert_eq!(pothole["group"], "Roads");
}

#[tokio::test]
async fn services_in_xml_use_services_and_service_elements() {
    let app = spawn_app().await;
    let xml = app.get_text("/open311/v2/services.xml", 200).await;
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<services><service><service_code>pothole</service_code>"));
    assert!(xml.contains("<metadata>true</metadata><type>realtime</type>"));
    assert!(xml.trim_end().ends_with("</service></services>"));
}

#[tokio::test]
async fn a_pothole_definition_asks_for_size_depth_and_traffic_lane() {
    let app = spawn_app().await;
    let definition = app.get_json("/open311/v2/services/pothole.json", 200).await;
    assert_eq!(definition["service_code"], "pothole");
    let attributes = definition["attributes"].as_array().unwrap();
    let codes: Vec<_> = attributes
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["size", "depth", "in_traffic_lane"]);
    let size = &attributes[0];
    assert_eq!(size["datatype"], "singlevaluelist");
    assert_eq!(size["required"], true);
    assert_eq!(size["variable"], true);
    assert_eq!(size["order"], 1);
    assert!(size["description"].is_string());
    assert!(
        size.as_object()
            .unwrap()
            .contains_key("datatype_description")
    );
    assert_eq!(size["values"][0]["key"], "small");
    assert!(size["values"][0]["name"].is_string());
}

#[tokio::test]
async fn a_service_definition_in_xml_nests_attributes_and_values() {
    let app = spawn_app().await;
    let xml = app.get_text("/open311/v2/services/pothole.xml", 200).await;
    assert!(xml.contains("<service_definition><service_code>pothole</service_code><attributes><attribute><variable>true</variable><code>size</code>"));
    assert!(xml.contains("<values><value><key>small</key><name>"));
}

#[tokio::test]
async fn an_unknown_service_is_a_404_with_an_open311_error_in_either_format() {
    let app = spawn_app().await;
    let errors = app
        .get_json("/open311/v2/services/unicorns.json", 404)
        .await;
    assert_eq!(errors[0]["code"], 404);
    assert!(
        errors[0]["description"]
            .as_str()
            .unwrap()
            .contains("unicorns")
    );
    let xml = app.get_text("/open311/v2/services/unicorns.xml", 404).await;
    assert!(xml.contains("<errors><error><code>404</code><description>"));
}

#[tokio::test]
async fn an_unknown_format_suffix_is_not_found() {
    let app = spawn_app().await;
    let errors = app.get_json("/open311/v2/services.html", 404).await;
    assert!(
        errors[0]["description"]
            .as_str()
            .unwrap()
            .contains(".json or .xml")
    );
}

#[tokio::test]
async fn an_empty_jurisdiction_is_ignored_and_a_foreign_one_is_not_found() {
    let app = spawn_app().await;
    app.get_json("/open311/v2/services.json?jurisdiction_id=", 200)
        .await;
    app.get_json(
        "/open311/v2/services.json?jurisdiction_id=upkeep.local",
        200,
    )
    .await;
    let errors = app
        .get_json(
            "/open311/v2/services.json?jurisdiction_id=elsewhere.gov",
            404,
        )
        .await;
    assert!(
        errors[0]["description"]
            .as_str()
            .unwrap()
            .contains("elsewhere.gov")
    );
}

#[tokio::test]
async fn services_at_a_point_are_only_those_offered_there() {
    let app = spawn_app_with(|s| s.city_bounds = Some([-76.3, 42.9, -76.0, 43.2])).await;
    let inside = app
        .get_json("/open311/v2/services.json?lat=43.05&long=-76.15", 200)
        .await;
    assert!(inside.as_array().unwrap().len() >= 10);
    let outside = app
        .get_json("/open311/v2/services.json?lat=51.5&long=-0.12", 200)
        .await;
    assert_eq!(outside, serde_json::json!([]));
    let errors = app
        .get_json("/open311/v2/services.json?lat=43.05", 400)
        .await;
    assert!(
        errors[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("long")
    );
}

#[tokio::test]
async fn planners_add_replace_and_retire_services_and_residents_see_it_at_once() {
    use backend::domain::Role;
    use reqwest::Method;
    use serde_json::json;
    let app = spawn_app().await;
    let planner = app.issue_key(Role::Planner);
    let mut abandoned_bike = json!({
        "code": "abandoned_bike", "name": "Abandoned bicycle", "group": "Streets",
        "description": "A bicycle left chained for weeks.", "keywords": ["bike", "bicycle"],
        "type": "realtime", "agency": "Public Works - Streets", "default_severity": 1,
        "sla_days": {"arterial": 14, "collector": 14, "local": 14},
        "duplicate_radius_m": 10.0
    });
    let path = "/api/v1/services/abandoned_bike";
    let (status, body) = app
        .send_json(
            Method::PUT,
            path,
            Some(&planner),
            Some(abandoned_bike.clone()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let listed = app.get_json("/open311/v2/services.json", 200).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["service_code"] == "abandoned_bike")
    );
    abandoned_bike["name"] = json!("Abandoned bike");
    let (status, _) = app
        .send_json(
            Method::PUT,
            path,
            Some(&planner),
            Some(abandoned_bike.clone()),
        )
        .await;
    assert_eq!(status, 200);
    let one = app
        .get_json("/open311/v2/services/abandoned_bike.json", 200)
        .await;
    assert_eq!(one["service_code"], "abandoned_bike");
    let native = app.get_json("/api/v1/services", 200).await;
    let stored = native["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "abandoned_bike")
        .unwrap()
        .clone();
    assert_eq!(stored["name"], "Abandoned bike");

    // Bad services are refused whole, saying why.
    abandoned_bike["default_severity"] = json!(9);
    let (status, body) = app
        .send_json(
            Method::PUT,
            path,
            Some(&planner),
            Some(abandoned_bike.clone()),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("default_severity")
    );
    let (status, body) = app
        .send_json(
            Method::PUT,
            "/api/v1/services/other_code",
            Some(&planner),
            Some(abandoned_bike.clone()),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with("code"));

    // Crews and clients may not change the catalogue.
    for role in [Role::Client, Role::Crew] {
        let (status, _) = app
            .send_json(Method::DELETE, path, Some(&app.issue_key(role)), None)
            .await;
        assert_eq!(status, 403);
    }
    let (status, _) = app
        .send_json(Method::DELETE, path, Some(&planner), None)
        .await;
    assert_eq!(status, 200);
    let listed = app.get_json("/open311/v2/services.json", 200).await;
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["service_code"] == "abandoned_bike")
    );
    let (status, _) = app
        .send_json(Method::DELETE, path, Some(&planner), None)
        .await;
    assert_eq!(status, 404);
}
