use crate::helpers::{spawn_app, spawn_app_with};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// The smallest valid PNG: one transparent pixel.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

fn pothole_form() -> Form {
    Form::new()
        .text("service_code", "pothole")
        .text("lat", "43.05")
        .text("long", "-76.15")
        .text("attribute[size]", "large")
        .text("attribute[in_traffic_lane]", "no")
}

/// A pothole report with a small PNG as its `media` part.
fn pothole_with_photo() -> Form {
    pothole_form().part(
        "media",
        Part::bytes(PNG.to_vec())
            .file_name("hole.png")
            .mime_str("image/png")
            .unwrap(),
    )
}

#[tokio::test]
async fn a_photo_sent_with_a_report_is_stored_and_served_at_its_media_url() {
    let app = spawn_app().await;
    let form = pothole_with_photo();
    let response = app.post_multipart("/open311/v2/requests.json", form).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let id = body[0]["service_request_id"].as_str().unwrap();
    let request = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    let media_url = request[0]["media_url"].as_str().expect("a media_url");
    assert!(media_url.starts_with(&app.address), "{media_url}");

    let photo = app.client.get(media_url).send().await.unwrap();
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.headers()["content-type"], "image/png");
    assert_eq!(photo.headers()["x-content-type-options"], "nosniff");
    // Decoded and written again: a PNG of the same single pixel.
    let served = photo.bytes().await.unwrap();
    assert_eq!(&served[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&served[16..24], &[0, 0, 0, 1, 0, 0, 0, 1], "1 × 1 pixels");
}

/// A JPEG whose EXIF segment carries a position.
fn jpeg_with_position() -> Vec<u8> {
    let pixels =
        image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, 60]));
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let payload = b"Exif\0\0GPSLatitude 43.0481 GPSLongitude -76.1474";
    let mut bytes = jpeg[..2].to_vec();
    bytes.extend_from_slice(&[0xFF, 0xE1]);
    bytes.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&jpeg[2..]);
    bytes
}

async fn served_photo(app: &crate::helpers::TestApp, form: Form) -> Vec<u8> {
    let response = app.post_multipart("/open311/v2/requests.json", form).await;
    let body: Value = response.json().await.unwrap();
    let id = body[0]["service_request_id"]
        .as_str()
        .expect("stored")
        .to_owned();
    let request = app
        .get_json(&format!("/open311/v2/requests/{id}.json"), 200)
        .await;
    let url = request[0]["media_url"].as_str().unwrap().to_owned();
    let photo = app.client.get(url).send().await.unwrap();
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    photo.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_photo_loses_its_location_unless_the_resident_agrees_to_keep_it() {
    let app = spawn_app().await;
    let original = jpeg_with_position();
    let part = || Part::bytes(original.clone()).file_name("hole.jpg");
    let contains = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);

    let stripped = served_photo(&app, pothole_form().part("media", part())).await;
    assert!(!contains(&stripped, b"Exif") && !contains(&stripped, b"43.0481"));
    let decoded = image::load_from_memory(&stripped).expect("a whole image");
    assert_eq!((decoded.width(), decoded.height()), (32, 24));

    let kept = served_photo(
        &app,
        pothole_form()
            .text("keep_photo_location", "true")
            .part("media", part()),
    )
    .await;
    assert_eq!(kept, original);

    let response = app
        .post_multipart(
            "/open311/v2/requests.json",
            pothole_form()
                .text("keep_photo_location", "perhaps")
                .part("media", part()),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("keep_photo_location")
    );
}

#[tokio::test]
async fn a_file_that_is_not_an_image_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let form = pothole_form().part(
        "media",
        Part::bytes(b"<html><script>alert(1)</script></html>".to_vec())
            .file_name("hole.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let response = app.post_multipart("/open311/v2/requests.json", form).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("media")
    );
    assert_eq!(app.count_rows("requests"), 0);
    assert_eq!(app.count_rows("media"), 0);
}

#[tokio::test]
async fn a_photo_over_the_upload_limit_is_refused_with_413() {
    let app = spawn_app_with(|s| {
        s.body_limit_bytes = 4096;
        s.media_limit_bytes = 8192;
    })
    .await;
    let mut big = PNG.to_vec();
    big.resize(20_000, 0);
    let form = pothole_form().part("media", Part::bytes(big).file_name("big.png"));
    let response = app.post_multipart("/open311/v2/requests.json", form).await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.count_rows("media"), 0);
}

#[tokio::test]
async fn a_multipart_report_without_a_photo_works_like_a_form() {
    let app = spawn_app().await;
    let response = app
        .post_multipart("/open311/v2/requests.json", pothole_form())
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.count_rows("media"), 0);
    assert_eq!(app.count_rows("requests"), 1);
}

#[tokio::test]
async fn health_answers_ok_with_the_backend_and_every_response_has_a_request_id() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert!(["sqlite", "postgres"].contains(&body["database"].as_str().unwrap()));
    assert_eq!(app.get("/media/nothing.png").await.status(), 404);
}

#[tokio::test]
async fn staff_upload_photos_for_work_orders_and_only_images_are_kept() {
    use backend::domain::Role;
    let app = crate::helpers::spawn_app().await;
    let png = PNG.to_vec();
    let upload = |key: Option<String>, bytes: Vec<u8>| {
        let mut request = app.client.post(app.url("/api/v1/media")).body(bytes);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let crew = upload(Some(app.issue_key(Role::Crew)), png.clone())
        .await
        .unwrap();
    assert_eq!(crew.status(), 201);
    let body: serde_json::Value = crew.json().await.unwrap();
    let url = body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/media/") && url.ends_with(".png"));
    let served = app.get(&url).await;
    assert_eq!(served.headers()["content-type"], "image/png");
    let served = served.bytes().await.unwrap();
    assert_eq!(&served[16..24], &[0, 0, 0, 1, 0, 0, 0, 1], "the same pixel");

    let text = upload(Some(app.issue_key(Role::Planner)), b"<script>".to_vec())
        .await
        .unwrap();
    assert_eq!(text.status(), 400);
    assert_eq!(upload(None, png.clone()).await.unwrap().status(), 401);
    assert_eq!(
        upload(Some(app.issue_key(Role::Client)), png)
            .await
            .unwrap()
            .status(),
        403
    );
}

/// Posts a report with a photo and these headers, then reads it with them; returns its
/// `media_url` as Open311 shows it, and its id.
async fn photo_url(app: &crate::helpers::TestApp, headers: &[(&str, &str)]) -> (String, String) {
    let form = pothole_with_photo();
    let mut request = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .multipart(form);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let id = body[0]["service_request_id"].as_str().unwrap().to_owned();
    // URLs are made when an answer is, so the reader's request carries the headers too.
    let mut read = app
        .client
        .get(app.url(&format!("/open311/v2/requests/{id}.json")));
    for (name, value) in headers {
        read = read.header(*name, *value);
    }
    let shown: Value = read.send().await.unwrap().json().await.unwrap();
    let stored = app.query_number(&format!(
        "SELECT COUNT(*) AS n FROM requests WHERE id = {id} AND media_url LIKE '/media/%'"
    ));
    assert_eq!(stored, 1, "stored as a path, never with a host");
    (shown[0]["media_url"].as_str().unwrap().to_owned(), id)
}

#[tokio::test]
async fn no_request_header_can_plant_a_host_or_scheme_in_the_urls_upkeep_hands_out() {
    let app = spawn_app().await;
    let hostile = [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "javascript"),
        ("forwarded", "host=evil.example;proto=javascript"),
    ];
    let (url, _) = photo_url(&app, &hostile).await;
    assert!(url.starts_with(&app.address), "{url}");
    // Discovery too names this server, not the caller's choice.
    let discovery = app
        .client
        .get(app.url("/open311/v2/discovery.json"))
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!discovery.contains("evil.example"), "{discovery}");
}

#[tokio::test]
async fn the_configured_public_url_and_a_trusted_proxy_name_the_server() {
    let configured = crate::helpers::spawn_app_with(|s| {
        s.public_url = Some("https://311.example.gov".into());
    })
    .await;
    let (url, _) = photo_url(&configured, &[("x-forwarded-host", "evil.example")]).await;
    assert!(url.starts_with("https://311.example.gov/media/"), "{url}");

    // Behind a proxy the city names, its forwarded origin is believed; an http(s) one.
    let proxied = crate::helpers::spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let (url, _) = photo_url(
        &proxied,
        &[
            ("x-forwarded-host", "city.example"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert!(url.starts_with("https://city.example/media/"), "{url}");
    let (url, _) = photo_url(
        &proxied,
        &[
            ("x-forwarded-host", "city.example"),
            ("x-forwarded-proto", "javascript"),
        ],
    )
    .await;
    assert!(url.starts_with(&proxied.address), "{url}");
}

#[tokio::test]
async fn every_answer_tells_browsers_not_to_guess_its_type() {
    let app = spawn_app().await;
    for path in [
        "/health",
        "/open311/v2/requests.xml",
        "/open311/v2/requests/999.json",
        "/api/v1/reports?radius_m=-1",
        "/api/v1/nothing-here",
        "/open311/v2/requests.json?status=%00",
        "/",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            response
                .headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path} ({})",
            response.status()
        );
    }
}

#[tokio::test]
async fn a_multipart_body_with_a_boundary_too_short_to_read_safely_is_refused() {
    // actix-multipart 0.7.2 panics on this body; Upkeep refuses it before reading.
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .header("content-type", "multipart/form-data; boundary=a")
        .body("--a--\r\n\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body[0]["description"]
            .as_str()
            .unwrap()
            .contains("boundary")
    );
    // The server is still there.
    app.get_json("/open311/v2/services.json", 200).await;
}
