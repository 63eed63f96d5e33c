//! Load generator for Open311 intake: POSTs pothole reports to a running server.
//!
//! Two modes:
//! - `--rate N`: open loop at N requests/s; latency is measured from each request's
//!   scheduled start, so a stalled server cannot hide its queue (no coordinated omission).
//! - without `--rate`: closed loop, `--connections` requests in flight, as fast as the
//!   server answers; reports sustained throughput.
//!
//! `--acked FILE` writes the id of every report acknowledged with 2xx, one per line, as
//! soon as it is acknowledged; the durability script compares it with the database after
//! a SIGKILL.
//!
//! cargo run --release --example intake_load -- --url http://127.0.0.1:8080 --seconds 10

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

struct Options {
    url: String,
    seconds: f64,
    rate: Option<f64>,
    connections: usize,
    acked: Option<String>,
}

fn parse_options() -> Options {
    let mut options = Options {
        url: "http://127.0.0.1:8080".into(),
        seconds: 10.0,
        rate: None,
        connections: 32,
        acked: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--url" => options.url = value(),
            "--seconds" => options.seconds = value().parse().expect("--seconds N"),
            "--rate" => options.rate = Some(value().parse().expect("--rate N")),
            "--connections" => options.connections = value().parse().expect("--connections N"),
            "--acked" => options.acked = Some(value()),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

fn report_body(i: u64) -> String {
    // Spread the reports over a city-sized area so they are not all one point.
    let lat = 43.0 + (i % 1000) as f64 * 0.0001;
    let lon = -76.2 + (i / 1000 % 1000) as f64 * 0.0001;
    format!(
        "service_code=pothole&lat={lat:.6}&long={lon:.6}&attribute%5Bsize%5D=medium\
         &attribute%5Bin_traffic_lane%5D=yes&description=Load+test+report+{i}\
         &email=load%40example.org"
    )
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    errors: AtomicU64,
}

async fn post_one(
    client: &reqwest::Client,
    endpoint: &str,
    i: u64,
    tally: &Tally,
    acked: &Option<Arc<Mutex<std::fs::File>>>,
) {
    let response = client
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(report_body(i))
        .send()
        .await;
    match response {
        Ok(response) if response.status().is_success() => {
            let body = response.text().await.unwrap_or_default();
            tally.ok.fetch_add(1, Ordering::Relaxed);
            if let Some(file) = acked
                && let Some(id) = body
                    .split("\"service_request_id\":\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
            {
                let mut file = file.lock().await;
                let _ = writeln!(file, "{id}");
            }
        }
        Ok(_) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            tally.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let options = parse_options();
    let endpoint = format!("{}/open311/v2/requests.json", options.url);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections.max(64))
        .build()
        .expect("client");
    let tally = Arc::new(Tally::default());
    let acked = options
        .acked
        .as_ref()
        .map(|path| Arc::new(Mutex::new(std::fs::File::create(path).expect("acked file"))));
    let duration = Duration::from_secs_f64(options.seconds);
    let started = Instant::now();
    let counter = Arc::new(AtomicU64::new(0));

    let latencies = match options.rate {
        Some(rate) => {
            let total = (rate * options.seconds) as u64;
            let interval = Duration::from_secs_f64(1.0 / rate);
            let mut tasks = Vec::with_capacity(total as usize);
            for i in 0..total {
                let scheduled = started + interval * u32::try_from(i).expect("count");
                tokio::time::sleep_until(scheduled.into()).await;
                let (client, endpoint, tally, acked) = (
                    client.clone(),
                    endpoint.clone(),
                    tally.clone(),
                    acked.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    post_one(&client, &endpoint, i, &tally, &acked).await;
                    scheduled.elapsed()
                }));
            }
            let mut latencies = Vec::with_capacity(tasks.len());
            for task in tasks {
                latencies.push(task.await.expect("task"));
            }
            latencies
        }
        None => {
            let mut workers = Vec::new();
            for _ in 0..options.connections {
                let (client, endpoint, tally, acked, counter) = (
                    client.clone(),
                    endpoint.clone(),
                    tally.clone(),
                    acked.clone(),
                    counter.clone(),
                );
                workers.push(tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while started.elapsed() < duration {
                        let i = counter.fetch_add(1, Ordering::Relaxed);
                        let sent = Instant::now();
                        post_one(&client, &endpoint, i, &tally, &acked).await;
                        latencies.push(sent.elapsed());
                    }
                    latencies
                }));
            }
            let mut latencies = Vec::new();
            for worker in workers {
                latencies.extend(worker.await.expect("worker"));
            }
            latencies
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let mut sorted = latencies;
    sorted.sort();
    let ok = tally.ok.load(Ordering::Relaxed);
    println!(
        "mode={} seconds={elapsed:.1} ok={ok} non_2xx={} transport_errors={} throughput={:.0}/s p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
        options.rate.map_or_else(
            || format!("closed-loop connections={}", options.connections),
            |r| format!("open-loop rate={r}/s")
        ),
        tally.failed.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        ok as f64 / elapsed,
        percentile(&sorted, 50.0),
        percentile(&sorted, 90.0),
        percentile(&sorted, 99.0),
        percentile(&sorted, 100.0),
    );
}
