//! Residents beyond the report: area alerts (double opt-in, hourly digests, delivered
//! once by a cluster, one-click unsubscribe), "is it fixed?" answers that reopen,
//! Atom feeds and signed webhooks.

use crate::helpers::{TestApp, form, pothole_at, spawn_app_with};
use backend::domain::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A message's text as a mail reader shows it: quoted-printable decoded (RFC 2045).
fn decoded(raw: &str) -> String {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    format!("{head}\r\n\r\n{}", String::from_utf8(out).unwrap())
}

/// The messages written to `dir`, oldest first, as (file name, decoded text).
fn messages_in(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".eml"))
                .map(|name| {
                    let text = std::fs::read_to_string(dir.join(&name)).unwrap();
                    (name, decoded(&text))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Waits until `dir` holds `count` messages, and returns them.
async fn wait_for_messages(dir: &Path, count: usize) -> Vec<(String, String)> {
    let started = Instant::now();
    loop {
        let messages = messages_in(dir);
        if messages.len() >= count {
            return messages;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute for {count} messages; have {}: {messages:?}",
            messages.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The first link in `text` whose path holds `path`.
fn link(text: &str, path: &str) -> String {
    let at = text
        .find(path)
        .unwrap_or_else(|| panic!("no link to {path} in {text}"));
    let start = text[..at].rfind("http").expect("a link starts with http");
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '>')
        .next()
        .unwrap()
        .to_owned()
}

fn report_from(lat: f64, lon: f64, email: &str) -> Vec<(String, String)> {
    let mut report = pothole_at(lat, lon);
    for (key, value) in &mut report {
        if key == "email" {
            *value = email.to_owned();
        }
    }
    report
}

async fn app_writing_mail_to(dir: &Path) -> TestApp {
    let dir = dir.to_owned();
    spawn_app_with(move |s| {
        s.outbox_dir = dir;
        s.city_name = "Testville".into();
    })
    .await
}

fn outbox_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox");
    (dir, path)
}

#[tokio::test]
async fn a_confirmed_subscriber_gets_one_digest_an_hour_from_a_cluster_until_they_unsubscribe() {
    let (_keep, dir) = outbox_dir();
    let app = app_writing_mail_to(&dir).await;
    let second = {
        let dir = dir.clone();
        app.spawn_second_server_with(move |s| {
            s.outbox_dir = dir;
            s.city_name = "Testville".into();
        })
        .await
    };
    let (status, answer) = app
        .send_json(
            Method::POST,
            "/api/v1/subscriptions",
            None,
            Some(
                json!({"email": "Ana@City.Example", "lat": 43.05, "lon": -76.16, "radius_m": 300}),
            ),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert!(
        !answer.to_string().to_lowercase().contains("ana@"),
        "{answer}"
    );

    // Only the confirmation goes out before the link is used.
    let confirmation = wait_for_messages(&dir, 1).await.remove(0).1;
    assert!(
        confirmation.contains("To: Ana@city.example"),
        "{confirmation}"
    );
    assert!(confirmation.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    app.submit(&report_from(43.0501, -76.16, "someone@example.org"))
        .await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        messages_in(&dir).len(),
        1,
        "nothing but the confirmation before it is used"
    );

    // Opening the link shows a button (a mail scanner confirms nothing); pressing it confirms.
    let confirm = link(&confirmation, "/alerts/confirm?token=");
    let page = app.client.get(&confirm).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<button type=\"submit\">Confirm</button>")
    );
    let token = confirm.split("token=").nth(1).unwrap().to_owned();
    let confirmed = app
        .post_form("/alerts/confirm", &[("token".into(), token.clone())])
        .await;
    assert_eq!(confirmed.status(), 200);

    // A report inside the circle and one outside: one digest names the first only.
    let inside = app
        .submit(&report_from(43.0502, -76.1601, "b@example.org"))
        .await;
    let outside = app
        .submit(&report_from(43.07, -76.20, "c@example.org"))
        .await;
    let digest = wait_for_messages(&dir, 2).await.remove(1).1;
    assert!(digest.contains(&format!("/report/{inside}")), "{digest}");
    assert!(!digest.contains(&format!("/report/{outside}")), "{digest}");
    assert!(
        digest.contains("Subject: Testville: 1 new report within 300 m"),
        "{digest}"
    );

    // Within the hour nothing more goes, however much happens; both servers deliver
    // under one lease, and every message was claimed and sent exactly once.
    app.submit(&report_from(43.0503, -76.16, "d@example.org"))
        .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(messages_in(&dir).len(), 2);
    assert_eq!(
        app.query_number(
            "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NOT NULL AND attempts = 1"
        ),
        2
    );
    assert_eq!(app.count_rows("outbox"), 2);

    // An hour later the held-back report is told.
    app.execute("UPDATE subscriptions SET last_sent_at = '2000-01-01 00:00:00'");
    let third = wait_for_messages(&dir, 3).await.remove(2).1;
    assert!(third.contains("1 new report"), "{third}");

    // One click on the link in any message stops them for good.
    let unsubscribe = link(&third, "/alerts/unsubscribe?");
    let stopped = app.client.get(&unsubscribe).send().await.unwrap();
    assert_eq!(stopped.status(), 200);
    assert!(
        stopped
            .text()
            .await
            .unwrap()
            .contains("no more of these alerts")
    );
    let forged = unsubscribe.replace("token=", "token=00");
    assert_eq!(app.client.get(&forged).send().await.unwrap().status(), 404);
    app.execute("UPDATE subscriptions SET last_sent_at = '2000-01-01 00:00:00'");
    app.submit(&report_from(43.0504, -76.16, "e@example.org"))
        .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(messages_in(&dir).len(), 3, "nothing after unsubscribing");
    // The second server took part: it answers, and the address is nowhere in the API.
    let reports = reqwest::get(format!("{second}/api/v1/reports"))
        .await
        .unwrap();
    assert!(!reports.text().await.unwrap().contains("ana@"));
}

#[tokio::test]
async fn bad_addresses_and_areas_are_refused_naming_the_field_and_limits_hold() {
    let (_keep, dir) = outbox_dir();
    let dir2 = dir.clone();
    let app = spawn_app_with(move |s| {
        s.outbox_dir = dir2;
        s.alerts_per_address = 2;
        s.alerts_daily_limit = 3;
    })
    .await;
    let ask = |body: Value| app.send_json(Method::POST, "/api/v1/subscriptions", None, Some(body));
    for (body, field) in [
        (json!({"email": "not an address", "ward_id": 1}), "email"),
        (json!({"email": "x@mailinator.com", "ward_id": 1}), "email"),
        (json!({"email": "a@b", "ward_id": 1}), "email"),
        (
            json!({"email": "x@city.example\u{7}", "ward_id": 1}),
            "email",
        ),
        (json!({"email": "x@city.example"}), "area"),
        (
            json!({"email": "x@city.example", "ward_id": 1, "lat": 43.0, "lon": -76.0}),
            "area",
        ),
        (
            json!({"email": "x@city.example", "lat": 43.0, "lon": -76.0, "radius_m": 10}),
            "radius_m",
        ),
        (
            json!({"email": "x@city.example", "lat": 91.0, "lon": -76.0}),
            "lat",
        ),
        (
            json!({"email": "x@city.example", "ward_id": 999}),
            "ward_id",
        ),
        (
            json!({"email": "x@city.example", "service_request_id": "999"}),
            "service_request_id",
        ),
        (
            json!({"email": "x@city.example", "lat": 43.0, "lon": -76.0, "service_codes": ["nope"]}),
            "service_code",
        ),
    ] {
        let (status, answer) = ask(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{body}: {answer}"
        );
    }
    let point = json!({"email": "x@city.example", "lat": 43.05, "lon": -76.16});
    assert_eq!(ask(point.clone()).await.0, 202);
    assert_eq!(ask(point.clone()).await.0, 202);
    let (status, answer) = ask(point).await;
    assert_eq!(status, 429, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("already has 2 subscriptions")
    );
    // Each subscription costs a message: with a limit of 3 a day, a fourth is refused
    // however many were stopped meanwhile.
    let other = json!({"email": "y@city.example", "lat": 43.05, "lon": -76.16});
    app.execute("UPDATE subscriptions SET unsubscribed_at = '2026-01-01 00:00:00'");
    assert_eq!(ask(other.clone()).await.0, 202);
    app.execute("UPDATE subscriptions SET unsubscribed_at = '2026-01-01 00:00:00'");
    assert_eq!(ask(other.clone()).await.0, 202);
    app.execute("UPDATE subscriptions SET unsubscribed_at = '2026-01-01 00:00:00'");
    assert_eq!(ask(other.clone()).await.0, 202);
    app.execute("UPDATE subscriptions SET unsubscribed_at = '2026-01-01 00:00:00'");
    let (status, answer) = ask(other).await;
    assert_eq!(status, 429, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("3 messages in the last 24 hours"),
        "{answer}"
    );
    // An unconfirmed subscription expires, and its link then says so.
    let confirmation = wait_for_messages(&dir, 1).await.remove(0).1;
    let token = link(&confirmation, "/alerts/confirm?")
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    app.execute("UPDATE subscriptions SET expires_at = '2000-01-01 00:00:00'");
    let late = app
        .post_form("/alerts/confirm", &[("token".into(), token)])
        .await;
    assert_eq!(late.status(), 410);
    let started = Instant::now();
    while app.count_rows("subscriptions") > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "expired subscriptions are deleted"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Completes the order of report `id`'s issue with crew `crew`, as that crew.
async fn complete_order_of(app: &TestApp, planner: &str, id: &str, crew: i64) -> i64 {
    let report = app.get_json(&format!("/api/v1/reports/{id}"), 200).await;
    let issue = report["issue_id"].as_i64().unwrap();
    let listing = app
        .wait_for(&format!("/api/v1/work-orders?issue_id={issue}"), |b| {
            b["total"] == 1
        })
        .await;
    let order = listing["items"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/work-orders/{order}");
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(planner),
            Some(json!({"crew_id": crew})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&app.crew_key(crew)),
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    order
}

#[tokio::test]
async fn a_resident_who_says_it_is_not_fixed_reopens_it_once_and_the_crew_sees_a_reopen() {
    let (_keep, dir) = outbox_dir();
    let app = app_writing_mail_to(&dir).await;
    let planner = app.issue_key(Role::Planner);
    let (status, crew) = app
        .send_json(
            Method::POST,
            "/api/v1/crews",
            Some(&planner),
            Some(
                json!({"name": "Roads", "depot_lat": 43.05, "depot_lon": -76.16,
                        "service_codes": ["pothole"], "daily_capacity": 8}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{crew}");
    let crew = crew["id"].as_i64().unwrap();
    crate::work_orders::import_street(&app, &planner).await;
    let id = app
        .submit(&report_from(43.05, -76.16, "ana@city.example"))
        .await;
    let segment = app.get_json(&format!("/api/v1/reports/{id}"), 200).await["segment_id"]
        .as_i64()
        .expect("the report is on the street");
    let reports_on_its_segment = || {
        let observed = backend::risk::observe(&app.db, &mut |_| {}).unwrap();
        let s = observed
            .segment_ids
            .iter()
            .position(|&x| x == segment)
            .unwrap();
        observed.history.reports[s].len()
    };
    assert_eq!(reports_on_its_segment(), 1);
    let order = complete_order_of(&app, &planner, &id, crew).await;

    // The reporter is asked, with a link that works without an account.
    let question = wait_for_messages(&dir, 1).await.remove(0).1;
    assert!(
        question.contains(&format!("Subject: Testville: is it fixed? (report {id})")),
        "{question}"
    );
    let url = link(&question, "/feedback/");
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Is it fixed?") && html.contains("name=\"satisfaction\""));

    // "No" needs a reason; with one, it reopens the order to its crew.
    let without = app
        .client
        .post(&url)
        .form(&form(&[("fixed", "no")]))
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 400);
    assert!(without.text().await.unwrap().contains("reason"));
    let answered = app
        .client
        .post(&url)
        .form(&form(&[
            ("fixed", "no"),
            ("reason", "The hole is back after the rain"),
            ("satisfaction", "2"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    assert!(answered.text().await.unwrap().contains("reopened"));
    // The risk model reads the answer as the defect reported again.
    assert_eq!(reports_on_its_segment(), 2);
    let reopened = app
        .get_json(&format!("/api/v1/work-orders/{order}"), 200)
        .await;
    assert_eq!(reopened["status"], "assigned");
    assert_eq!(reopened["crew_id"], crew);
    assert_eq!(reopened["reopens"], 1);
    let day = app
        .client
        .get(app.url(&format!("/api/v1/crews/{crew}/day")))
        .bearer_auth(app.crew_key(crew))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(day.to_string().contains("\"reopens\":1"), "{day}");

    // Open311 shows the reopen in the status notes and the history.
    let report = app.request_with_extensions(&id).await;
    assert_eq!(report["status"], "open");
    assert!(
        report["status_notes"]
            .as_str()
            .unwrap()
            .contains("The hole is back after the rain"),
        "{report}"
    );
    assert_eq!(
        app.query_number(&format!(
            "SELECT COUNT(*) AS n FROM request_updates WHERE request_id = {id} \
             AND author = 'resident' AND description LIKE '%not fixed%'"
        )),
        1,
        "the reopen is in the report's history"
    );

    // The link works once: a second answer changes nothing and says why.
    let again = app
        .client
        .post(&url)
        .form(&form(&[("fixed", "no"), ("reason", "again")]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("works only once"));
    let (status, body) = app
        .send_json(
            Method::POST,
            &format!("/api/v1/feedback/{}", url.rsplit('/').next().unwrap()),
            None,
            Some(json!({"fixed": false, "reason": "again"})),
        )
        .await;
    assert_eq!(status, 410, "{body}");
    let reopened = app
        .get_json(&format!("/api/v1/work-orders/{order}"), 200)
        .await;
    assert_eq!(reopened["reopens"], 1);
    assert_eq!(
        app.client
            .get(app.url("/feedback/not-a-token"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Completing it again asks again; an expired link gets its own page.
    complete_again(&app, order, crew).await;
    let second = wait_for_messages(&dir, 2).await.remove(1).1;
    let url = link(&second, "/feedback/");
    app.execute("UPDATE feedback SET expires_at = '2000-01-01 00:00:00' WHERE answered_at IS NULL");
    let expired = app.client.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), 410);
    assert!(expired.text().await.unwrap().contains("expired"));

    // The answers are statistics: per ward, category and crew.
    let stats = app
        .client
        .get(app.url("/api/v1/stats/feedback"))
        .bearer_auth(&planner)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let pothole = stats["by_service"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_code"] == "pothole")
        .unwrap()
        .clone();
    assert_eq!(pothole["answers"], 1, "{stats}");
    assert_eq!(pothole["reopen_rate"], 1.0, "{stats}");
    assert_eq!(pothole["satisfaction"], 2.0, "{stats}");
    assert_eq!(stats["by_crew"][0]["crew_id"], crew, "{stats}");
}

async fn complete_again(app: &TestApp, order: i64, crew: i64) {
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/work-orders/{order}"),
            Some(&app.crew_key(crew)),
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_area_feed_is_valid_atom_that_lists_its_reports_and_nothing_outside() {
    let app = spawn_app_with(|_| {}).await;
    let inside = app
        .submit(&report_from(43.05, -76.16, "a@example.org"))
        .await;
    let outside = app
        .submit(&report_from(43.09, -76.10, "b@example.org"))
        .await;
    let response = app
        .client
        .get(app.url("/feeds/area.atom?lat=43.05&lon=-76.16&radius_m=400"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let text = response.text().await.unwrap();
    let feed: atom_syndication::Feed = text.parse().expect("a feed reader reads it");
    let links: Vec<String> = feed
        .entries()
        .iter()
        .flat_map(|e| e.links().iter().map(|l| l.href().to_owned()))
        .collect();
    assert!(
        links
            .iter()
            .any(|l| l.ends_with(&format!("/report/{inside}"))),
        "{text}"
    );
    assert!(
        !links
            .iter()
            .any(|l| l.ends_with(&format!("/report/{outside}"))),
        "{text}"
    );
    assert!(!text.contains("a@example.org"));
    let one = app.get(&format!("/feeds/reports/{inside}.atom")).await;
    assert_eq!(one.status(), 200);
    let feed: atom_syndication::Feed = one.text().await.unwrap().parse().unwrap();
    assert_eq!(feed.entries().len(), 1);
    for (path, status) in [
        ("/feeds/area.atom?lat=43.05", 400),
        ("/feeds/area.atom?lat=43.05&lon=-76.16&radius_m=1", 400),
        ("/feeds/area.atom?lat=x&lon=-76.16", 400),
        ("/feeds/wards/999.atom", 404),
        ("/feeds/reports/999999.atom", 404),
    ] {
        assert_eq!(app.get(path).await.status().as_u16(), status, "{path}");
    }
}

/// A receiver of webhooks: the raw requests it got.
async fn receiver() -> (String, std::sync::Arc<tokio::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buffer).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if buffer.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            keep.lock()
                .await
                .push(String::from_utf8_lossy(&buffer).to_string());
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (url, got)
}

#[tokio::test]
async fn admins_register_https_webhooks_that_receive_signed_report_changes() {
    let app = spawn_app_with(|s| s.webhooks_allow_private = true).await;
    let strict = spawn_app_with(|_| {}).await;
    let admin = strict.issue_key(Role::Admin);
    for url in [
        "http://hooks.city.example/x",
        "https://127.0.0.1/x",
        "https://10.0.0.8/x",
        "https://localhost/x",
    ] {
        let (status, body) = strict
            .send_json(
                Method::POST,
                "/api/v1/webhooks",
                Some(&admin),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body["message"].as_str().unwrap().contains("url"), "{body}");
    }
    let planner = strict.issue_key(Role::Planner);
    let (status, _) = strict
        .send_json(
            Method::POST,
            "/api/v1/webhooks",
            Some(&planner),
            Some(json!({"url": "https://hooks.city.example/x"})),
        )
        .await;
    assert_eq!(status, 403, "only admins register webhooks");

    let (url, got) = receiver().await;
    let admin = app.issue_key(Role::Admin);
    let (status, hook) = app
        .send_json(
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(json!({"url": url})),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let (_, listed) = app
        .send_json(Method::GET, "/api/v1/webhooks", Some(&admin), None)
        .await;
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );

    let id = app
        .submit(&report_from(43.05, -76.16, "private@example.org"))
        .await;
    let started = Instant::now();
    let request = loop {
        if let Some(r) = got.lock().await.first().cloned() {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no webhook arrived"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no {name} in {head}"))
    };
    let timestamp = header("x-upkeep-timestamp");
    let signature = header("x-upkeep-signature");
    let expected =
        backend::alerts::sign(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes());
    assert_eq!(signature, format!("sha256={expected}"));
    let events: Value = serde_json::from_str(body).unwrap();
    assert_eq!(events["events"][0]["type"], "report.created");
    assert_eq!(events["events"][0]["service_request_id"], id.as_str());
    assert!(
        !body.contains("private@example.org"),
        "nothing personal: {body}"
    );

    let hook_id = hook["id"].as_i64().unwrap();
    let (status, _) = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/webhooks/{hook_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
}

/// A mail server that takes every message: the DATA of each, as sent.
async fn smtp_sink() -> (u16, std::sync::Arc<tokio::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let keep = keep.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            keep.lock().await.push(std::mem::take(body));
                            data = None;
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, got)
}

#[tokio::test]
async fn with_an_smtp_url_messages_go_to_the_mail_server_instead_of_files() {
    let (port, got) = smtp_sink().await;
    let (_keep, dir) = outbox_dir();
    let files = dir.clone();
    let app = spawn_app_with(move |s| {
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.outbox_dir = files;
    })
    .await;
    let (status, body) = app
        .send_json(
            Method::POST,
            "/api/v1/subscriptions",
            None,
            Some(json!({"email": "ana@city.example", "lat": 43.05, "lon": -76.16})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let started = Instant::now();
    let message = loop {
        if let Some(m) = got.lock().await.first().cloned() {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no mail arrived"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(message.contains("To: ana@city.example"), "{message}");
    assert!(
        decoded(&message.replace('\n', "\r\n")).contains("/alerts/confirm?token="),
        "{message}"
    );
    assert!(messages_in(&dir).is_empty(), "no files when mail is sent");
    assert_eq!(
        app.query_number("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NOT NULL"),
        1
    );
}

#[tokio::test]
async fn a_subscriber_who_reads_french_gets_the_confirmation_in_french() {
    let (_keep, dir) = outbox_dir();
    let app = app_writing_mail_to(&dir).await;
    let response = app
        .client
        .post(app.url("/api/v1/subscriptions"))
        .header("accept-language", "fr-CA,fr;q=0.9")
        .json(&json!({"email": "ana@city.example", "lat": 43.05, "lon": -76.16, "radius_m": 300}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let message = wait_for_messages(&dir, 1).await.remove(0).1;
    assert!(
        message.contains("Subject: Testville : confirmez vos alertes"),
        "{message}"
    );
    assert!(
        message.contains("à moins de 300 m de 43.05000, -76.16000"),
        "{message}"
    );
    assert!(message.contains("Confirmer"), "{message}");
    assert!(message.contains("/alerts/confirm?token="), "{message}");
}
