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
