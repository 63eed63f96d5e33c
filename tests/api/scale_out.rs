use crate::helpers::{pothole_at, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn two_servers_on_one_database_see_each_others_reports_at_once() {
    let first = spawn_app().await;
    let second = first.spawn_second_server().await;

    let id = first.submit(&pothole_at(43.05, -76.15)).await;
    let seen: Value = first
        .client
        .get(format!(
            "{second}/open311/v2/requests.json?lat=43.05&long=-76.15&radius=500"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen[0]["service_request_id"], id.as_str());
    let near: Value = first
        .client
        .get(format!(
            "{second}/api/v1/reports?lat=43.05&lon=-76.15&radius_m=100"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(near["items"][0]["id"].to_string(), id);

    // A report to the second server joins the issue the first one started.
    let answer: Value = first
        .client
        .post(format!("{second}/open311/v2/requests.json"))
        .form(&pothole_at(43.05 + 10.0 / 111_195.0, -76.15))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer[0]["service_notice"].as_str().unwrap().contains(&id));
    assert_eq!(first.count_rows("issues"), 1);
}

#[tokio::test]
async fn reports_of_one_pothole_arriving_at_once_on_two_servers_make_one_issue() {
    let first = spawn_app().await;
    let second = first.spawn_second_server().await;
    let servers = [first.address.clone(), second];
    let posts = (0..24).map(|i| {
        let client = first.client.clone();
        let url = format!("{}/open311/v2/requests.json", servers[i % 2]);
        let lat = 43.05 + (i % 5) as f64 * 2.0 / 111_195.0;
        async move {
            let mut form = pothole_at(lat, -76.15);
            form.retain(|(k, _)| k != "email");
            // Half say which device they are; the other half are anonymous, from one
            // address, whichever server they reach.
            if i % 4 < 2 {
                form.push(("device_id".into(), format!("phone-{i}")));
            }
            client.post(url).form(&form).send().await.unwrap().status()
        }
    });
    for status in futures_util::future::join_all(posts).await {
        assert_eq!(status, 200);
    }
    assert_eq!(first.count_rows("issues"), 1);
    assert_eq!(
        first.query_number("SELECT CAST(reporter_count AS BIGINT) AS n FROM issues"),
        12 + 1
    );
}

#[tokio::test]
async fn a_lease_is_one_servers_until_it_lapses_and_then_another_takes_it_over() {
    use backend::db::leases::{acquire, holder, release};
    let app = spawn_app().await;
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let t0 = backend::domain::now();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let take = |who: &str, now: i64| {
            db.write(|c| acquire(c, "job", who, at(now), at(now + 60)))
                .unwrap()
        };
        let held_by = |now: i64| db.read(|c| holder(c, "job", at(now))).unwrap();
        assert!(take("a", 0), "a free job is taken");
        assert!(!take("b", 10), "not while a holds it");
        assert_eq!(held_by(10).as_deref(), Some("a"));
        assert!(take("a", 30), "a renews");
        assert!(!take("b", 89), "the renewal counts");
        // a stopped renewing (it died): b takes over once the lease has lapsed.
        assert_eq!(held_by(91), None);
        assert!(take("b", 91));
        assert_eq!(held_by(100).as_deref(), Some("b"));
        db.write(|c| release(c, "job", "a")).unwrap();
        assert_eq!(
            held_by(100).as_deref(),
            Some("b"),
            "a cannot give up b's lease"
        );
        db.write(|c| release(c, "job", "b")).unwrap();
        assert_eq!(held_by(100), None);
        assert!(take("a", 100), "a given-up job is free");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn two_servers_starting_on_one_database_train_one_model_between_them() {
    let first = crate::helpers::spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
        s.risk_train_on_start = true;
    })
    .await;
    let second = first
        .spawn_second_server_with(|s| s.risk_train_on_start = true)
        .await;
    let models_on = |server: String| {
        let client = first.client.clone();
        async move {
            client
                .get(format!("{server}/api/v1/models"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let started = std::time::Instant::now();
    let settled = loop {
        let seen = models_on(second.clone()).await;
        if seen["total"] == 1 && seen["training"] == false {
            break seen;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "training finished: {seen}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(settled["items"][0]["active"], true);
    // Both servers checked at start; the lease let one of them train.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(first.count_rows("model_versions"), 1);
    // (Other jobs, such as alerts every 5 s, take leases of their own meanwhile.)
    assert_eq!(
        first.query_number("SELECT COUNT(*) AS n FROM job_leases WHERE job = 'risk'"),
        0,
        "the lease was given up"
    );
}

#[tokio::test]
async fn a_planner_asking_for_a_run_while_another_server_holds_the_lease_is_told_so() {
    use backend::db::leases::{acquire, release};
    let app = crate::helpers::spawn_tiny_city().await;
    let planner = app.issue_key(backend::domain::Role::Planner);
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let now = backend::domain::now();
        let until = now + chrono::Duration::seconds(60);
        assert!(
            db.write(|c| acquire(c, "risk", "elsewhere", now, until))
                .unwrap()
        );
    })
    .await
    .unwrap();
    let models = app.get_json("/api/v1/models", 200).await;
    assert_eq!(
        models["training"], true,
        "a run anywhere in the cluster shows"
    );
    let (status, body) = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/models/train",
            Some(&planner),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "busy");
    assert!(body["message"].as_str().unwrap().contains("another server"));
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || db.write(|c| release(c, "risk", "elsewhere")).unwrap())
        .await
        .unwrap();
    let (status, body) = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/models/train",
            Some(&planner),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
}
