use crate::helpers::spawn_app;

#[tokio::test]
async fn discovery_names_the_endpoint_its_specification_and_formats() {
    let app = spawn_app().await;
    let body = app.get_json("/open311/v2/discovery.json", 200).await;
    assert!(body.is_object());
    let changeset = body["changeset"].as_str().expect("changeset");
    assert!(
        chrono::DateTime::parse_from_rfc3339(changeset).is_ok(),
        "{changeset}"
    );
    let endpoint = &body["endpoints"][0];
    assert_eq!(
        endpoint["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    assert_eq!(endpoint["url"], app.url("/open311/v2"));
    assert_eq!(endpoint["type"], "production");
    assert_eq!(
        endpoint["formats"],
        serde_json::json!(["text/xml", "application/json"])
    );
    assert!(body["contact"].is_string() && body["key_service"].is_string());
}

#[tokio::test]
async fn discovery_in_xml_has_the_declaration_and_nested_containers() {
    let app = spawn_app().await;
    let response = app.get("/open311/v2/discovery.xml").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/xml; charset=utf-8"
    );
    let xml = response.text().await.unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    assert!(xml.contains("<discovery><changeset>"));
    assert!(xml.contains(
        "<endpoints><endpoint><specification>http://wiki.open311.org/GeoReport_v2</specification>"
    ));
    assert!(
        xml.contains(
            "<formats><format>text/xml</format><format>application/json</format></formats>"
        )
    );
}

#[tokio::test]
async fn the_openapi_document_describes_routes_that_exist() {
    let app = spawn_app().await;
    let document = app.get_json("/api/v1/openapi.json", 200).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 12);
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let url = app.url(&path.replace("{id}", "1").replace("{code}", "pothole"));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app
                .client
                .request(method.clone(), url)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is documented but not served");
            assert!(
                !body.contains("is not a resource here"),
                "{method} {path} is documented but not routed"
            );
        }
    }
}

/// Every write in the OpenAPI document, tried by every kind of caller: the roles its
/// `x-roles` names get past authorisation (whatever the body then says), everyone else
/// gets 401 or 403, and nobody gets a server error. A new write without `x-roles` fails
/// this test, so none can be left out.
#[tokio::test]
async fn every_documented_write_admits_exactly_the_roles_it_names() {
    use backend::domain::Role;
    use reqwest::Method;
    let app = spawn_app().await;
    let planner = app.issue_key(Role::Planner);
    let (status, crew) = app
        .send_json(
            Method::POST,
            "/api/v1/crews",
            Some(&planner),
            Some(serde_json::json!({
                "name": "Matrix crew", "depot_lat": 43.05, "depot_lon": -76.16,
                "service_codes": ["pothole"], "daily_capacity": 8
            })),
        )
        .await;
    assert_eq!(status, 201, "{crew}");
    let callers: Vec<(&str, Option<String>)> = vec![
        ("anyone", None),
        ("client", Some(app.issue_key(Role::Client))),
        ("crew", Some(app.crew_key(crew["id"].as_i64().unwrap()))),
        ("planner", Some(planner.clone())),
        ("admin", Some(app.issue_key(Role::Admin))),
    ];
    let document = app.get_json("/api/v1/openapi.json", 200).await;
    let mut writes = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if !["post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            writes += 1;
            let roles: Vec<&str> = operation["x-roles"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} names no x-roles"))
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            // Ids nothing has, so an admitted write changes nothing that matters.
            let url = path
                .replace("{id}", "999999")
                .replace("{code}", "no_such_service")
                .replace("{kind}", "reports");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for (who, key) in &callers {
                let (status, body) = app
                    .send_json(
                        method.clone(),
                        &url,
                        key.as_deref(),
                        Some(serde_json::json!({})),
                    )
                    .await;
                assert!(status < 500, "{method} {path} as {who}: {status} {body}");
                let admitted = roles.contains(&"anyone") || roles.contains(who);
                if admitted {
                    assert!(
                        status != 401 && status != 403,
                        "{method} {path} refused {who}, whom it names: {status} {body}"
                    );
                } else {
                    assert!(
                        status == 401 || status == 403,
                        "{method} {path} admitted {who}: {status} {body}"
                    );
                }
            }
        }
    }
    assert!(writes >= 19, "{writes} writes documented");
}
