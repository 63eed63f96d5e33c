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
