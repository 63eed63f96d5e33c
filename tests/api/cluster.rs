//! Three `upkeep serve` processes on one database behind nginx, started by
//! `scripts/cluster.sh`: one is killed under write load, and nothing acknowledged is
//! lost while clients carry on through the others.

use crate::helpers::{pothole_at, spawn_app};
use backend::db::DatabaseUrl;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The cluster, stopped when dropped (a failing test leaves no process behind).
struct Cluster {
    dir: PathBuf,
    url: String,
}

impl Cluster {
    fn start(dir: &Path, database: &DatabaseUrl, port: u16) -> Cluster {
        let database = match database {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        };
        let out = script(dir)
            .arg("start")
            .arg(dir)
            .env("UPKEEP_DATABASE_URL", database)
            .env("PORT", port.to_string())
            .output()
            .expect("the script runs");
        let cluster = Cluster {
            dir: dir.to_owned(),
            url: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        };
        assert!(
            out.status.success(),
            "the cluster starts: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    /// Kills server `i` (1-based) without warning.
    fn kill(&self, i: usize) {
        let pid = std::fs::read_to_string(self.dir.join(format!("server-{i}.pid"))).unwrap();
        let killed = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
        assert!(killed.success());
        // Gone, or a zombie nobody reaps (its parent, the script, has exited).
        let gone = (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .map_or(true, |stat| stat.contains(") Z "))
        });
        assert!(gone, "server {i} is dead");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = script(&self.dir).arg("stop").arg(&self.dir).status();
    }
}

fn script(dir: &Path) -> Command {
    let mut command = Command::new("bash");
    command
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cluster.sh"))
        .env("BIN", env!("CARGO_BIN_EXE_upkeep"))
        .env("UPKEEP_DEMO", "false")
        .env("UPKEEP_LOG_LEVEL", "warn")
        .env("UPKEEP_WRITE_RATE_PER_MINUTE", "0")
        .env("UPKEEP_RISK_TRAIN_ON_START", "false")
        .current_dir(dir);
    command
}

/// A free port and the three after it, as far as one can tell, below the range the
/// system hands out for outgoing connections and `bind(0)`: there, another test's client
/// or server cannot take one of them between this check and the servers' start.
fn free_ports() -> u16 {
    let ephemeral_from: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768);
    let (low, high) = (
        ephemeral_from.saturating_sub(12_000).max(1_024),
        ephemeral_from - 4,
    );
    loop {
        let port = rand::Rng::gen_range(&mut rand::thread_rng(), low..high);
        if (0..=3).all(|i| std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok()) {
            return port;
        }
    }
}

#[tokio::test]
async fn a_server_killed_under_write_load_loses_nothing_acknowledged_and_clients_carry_on() {
    if Command::new("nginx").arg("-v").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is missing (apt-get install nginx)"
        );
        eprintln!("skipped: no nginx (apt-get install nginx)");
        return;
    }
    // Creates and migrates the database; it is not one of the three.
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), &app.database_url, free_ports());

    const CLIENTS: usize = 8;
    let started = Instant::now();
    let load = Duration::from_secs(4);
    let kill_at = Duration::from_millis(1_500);
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let url = format!("{}/open311/v2/requests.json", cluster.url);
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            // (acknowledged id, when), and (when, what) for each failure.
            let (mut acked, mut failed) = (Vec::new(), Vec::new());
            let mut n = 0;
            while started.elapsed() < load {
                n += 1;
                let at = pothole_at(43.0 + c as f64 * 0.01, -76.2 + n as f64 * 0.0005);
                let answer = http.post(&url).form(&at).send().await;
                let when = started.elapsed();
                match answer {
                    Ok(r) if r.status().as_u16() == 200 => {
                        let body: Value = r.json().await.unwrap();
                        let id = body[0]["service_request_id"].as_str().unwrap().to_owned();
                        acked.push((id, when));
                    }
                    Ok(r) => failed.push((when, r.status().to_string())),
                    Err(e) => failed.push((when, e.to_string())),
                }
            }
            (acked, failed)
        }));
    }
    tokio::time::sleep(kill_at).await;
    cluster.kill(2);
    let (mut acked, mut failed) = (Vec::new(), Vec::new());
    for client in clients {
        let (a, f) = client.await.unwrap();
        acked.extend(a);
        failed.extend(f);
    }
    eprintln!(
        "{} acknowledged, {} failed: {:?}",
        acked.len(),
        failed.len(),
        failed
    );

    // Clients carried on through the other two.
    let after_kill = acked
        .iter()
        .filter(|(_, when)| *when > kill_at + Duration::from_millis(500))
        .count();
    assert!(
        after_kill > 20,
        "{after_kill} acknowledged after the kill; failures: {failed:?}"
    );
    assert!(
        failed.len() * 20 < acked.len(),
        "{} failures against {} acknowledged: {failed:?}",
        failed.len(),
        acked.len()
    );
    // Every acknowledged report is stored.
    let ids: Vec<&str> = acked.iter().map(|(id, _)| id.as_str()).collect();
    let stored = app.query_number(&format!(
        "SELECT COUNT(*) AS n FROM requests WHERE id IN ({})",
        ids.join(",")
    ));
    assert_eq!(
        stored as usize,
        ids.len(),
        "every acknowledged report is kept"
    );
}
