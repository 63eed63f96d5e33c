//! Time to first render of each page, and the bytes it transferred, in headless
//! Chromium with an empty cache (see scripts/page_bench.sh and BENCHMARKS.md).
//!
//! `page_bench BASE_URL CREW_KEY [RUNS]`: for each page, RUNS fresh browsers load it and
//! wait for the page's own "rendered" mark (set once its first data is drawn); the
//! median time from navigation start to that mark and the bytes over the wire
//! (navigation plus every resource, compressed as sent) are printed as a table.

#![allow(clippy::unwrap_used)]

#[path = "../tests/browser/browser.rs"]
#[allow(dead_code)]
mod browser;

use serde_json::Value;

/// What the page measured of itself: (ms to the rendered mark, bytes, requests).
const MEASURE: &str = "
const mark = performance.getEntriesByName('upkeep-rendered')[0];
const nav = performance.getEntriesByType('navigation')[0];
const resources = performance.getEntriesByType('resource');
const bytes = nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0);
return [mark ? mark.startTime : null, bytes, resources.length + 1];";

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let base = args
        .first()
        .expect("usage: page_bench BASE_URL CREW_KEY [RUNS]")
        .clone();
    let key = args.get(1).expect("a crew key").clone();
    let runs: usize = args.get(2).map_or(5, |r| r.parse().unwrap());
    let report: Value = reqwest::get(format!("{base}/open311/v2/requests.json?page_size=1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let report_id = report[0]["service_request_id"].as_str().unwrap().to_owned();
    let pages = [
        ("residents /", "/".to_owned(), false),
        (
            "report status /report/{id}",
            format!("/report/{report_id}"),
            false,
        ),
        ("crew /crew (signed in: the day)", "/crew".to_owned(), true),
        ("planners /planner", "/planner".to_owned(), false),
        (
            "neighbourhoods /neighbourhoods",
            "/neighbourhoods".to_owned(),
            false,
        ),
    ];
    println!("| page | first render, median of {runs} (ms) | bytes transferred | requests |");
    println!("|---|---|---|---|");
    for (name, path, signed_in) in pages {
        let mut times = Vec::new();
        let mut bytes = Vec::new();
        let mut requests = 0;
        for _ in 0..runs {
            let browser = browser::open(1280, 900).await.expect("chromium");
            if signed_in {
                // The key lives in the tab's session storage; set it on a page that
                // loads none of the page's assets, so the cache stays cold.
                browser.goto(&format!("{base}/health")).await;
                browser
                    .eval(&format!(
                        "sessionStorage.setItem('upkeep-key', '{key}'); return true"
                    ))
                    .await;
            }
            browser.goto(&format!("{base}{path}")).await;
            browser.wait_rendered().await;
            let measured = browser.eval(MEASURE).await;
            times.push(measured[0].as_f64().unwrap());
            bytes.push(measured[1].as_f64().unwrap());
            requests = measured[2].as_u64().unwrap();
            browser.assert_no_errors(name).await;
            browser.close().await;
        }
        println!(
            "| {name} | {:.0} | {:.0} kB | {requests} |",
            median(times),
            median(bytes) / 1000.0
        );
    }
}
