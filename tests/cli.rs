//! The `upkeep` binary as an operator uses it: start, stop, migrate, keys, bad settings.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn upkeep(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upkeep"));
    command
        .current_dir(dir)
        .env_remove("UPKEEP_DATABASE_URL")
        .env_remove("UPKEEP_BIND")
        // The demo city is loaded in the API tests; here it would only slow start-up.
        .env("UPKEEP_DEMO", "false")
        .env(
            "UPKEEP_DATABASE_URL",
            format!("sqlite://{}", dir.join("cli.db").display()),
        );
    command
}

type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Starts `upkeep serve` on a free port and waits for its "ready" log line; the log
/// lines keep arriving in the returned buffer.
fn start_server(dir: &std::path::Path, extra_env: &[(&str, &str)]) -> (Child, u16, Log) {
    let mut child = upkeep(dir)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("UPKEEP_LOG_FORMAT", "json")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = Log::default();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line.clone());
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && let Some(port) = event["port"].as_u64()
            {
                let _ = tx.send(port);
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server reported ready");
    (child, u16::try_from(port).unwrap(), log)
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[tokio::test]
async fn serve_answers_health_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, _) = start_server(dir.path(), &[]);
    let health = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_for_exit(&mut child, Duration::from_secs(30));
    if status.is_none() {
        let _ = child.kill();
    }
    assert!(status.expect("exited after SIGTERM").success());
}

#[test]
fn a_bad_setting_stops_start_up_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = upkeep(dir.path())
        .args(["serve"])
        .env("UPKEEP_MAX_PAGE_SIZE", "0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_page_size"), "{stderr}");

    let output = upkeep(dir.path())
        .args(["migrate"])
        .env("UPKEEP_DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("database_url"));
}

#[test]
fn migrate_creates_the_database_and_can_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = upkeep(dir.path()).arg("migrate").output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(dir.path().join("cli.db").exists());
}

#[tokio::test]
async fn a_key_made_on_the_command_line_opens_a_server_that_requires_keys() {
    let dir = tempfile::tempdir().unwrap();
    let output = upkeep(dir.path())
        .args(["api-key", "create", "--name", "City app"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout
        .lines()
        .find(|l| l.starts_with("upk_"))
        .expect("the key is printed")
        .to_owned();
    let listed = upkeep(dir.path())
        .args(["api-key", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("City app") && !listed.contains(&key),
        "{listed}"
    );

    let (mut child, port, log) = start_server(dir.path(), &[("UPKEEP_REQUIRE_API_KEY", "true")]);
    let client = reqwest::Client::new();
    let post = |key: Option<&str>| {
        let mut form = vec![
            ("service_code", "graffiti"),
            ("address_string", "Town hall"),
            ("attribute[offensive]", "no"),
        ];
        if let Some(key) = key {
            form.push(("api_key", key));
        }
        client
            .post(format!("http://127.0.0.1:{port}/open311/v2/requests.json"))
            .form(&form)
            .send()
    };
    assert_eq!(post(None).await.unwrap().status(), 403);
    assert_eq!(post(Some(&key)).await.unwrap().status(), 200);
    let in_query = client
        .post(format!(
            "http://127.0.0.1:{port}/open311/v2/requests.json?api_key={key}"
        ))
        .form(&[
            ("service_code", "graffiti"),
            ("address_string", "Library"),
            ("attribute[offensive]", "no"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), 200);
    child.kill().unwrap();
    let _ = child.wait();
    let log = log.lock().unwrap();
    assert!(
        log.iter().any(|l| l.contains("/open311/v2/requests.json")),
        "requests are logged"
    );
    assert!(
        log.iter().all(|l| !l.contains(&key)),
        "the key never reaches the log"
    );
}

#[test]
fn evaluate_train_and_score_work_on_a_demo_city() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = upkeep(dir.path()).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    run(&["demo", "--seed", "3", "--size", "tiny"]);

    let summary: serde_json::Value = serde_json::from_str(&run(&["evaluate", "--json"])).unwrap();
    for key in [
        "roc_auc",
        "pr_auc",
        "precision_at_1pct",
        "precision_at_10pct",
        "recall_at_10pct",
        "lift_at_1pct",
        "brier",
        "ece",
        "oracle_precision_at_10pct",
        "baseline_prior_reports_precision_at_10pct",
        "tercile_recall_ratio",
    ] {
        assert!(summary[key].is_number(), "{key} in {summary}");
    }
    assert!(summary["roc_auc"].as_f64().unwrap() > 0.6, "{summary}");
    assert_eq!(summary["label"], "true_potholes");
    assert_eq!(summary["horizon_days"], 28);
    assert_eq!(
        summary["new_defect_evidence"]["label"], "new_defect_evidence",
        "the demo city is read with both labels"
    );
    assert!(summary["new_defect_evidence"]["roc_auc"].is_number());
    assert!(summary["best_baseline"].is_string());
    assert!(summary["baseline_same_weeks_last_year_precision_at_10pct"].is_number());
    assert!(summary["monthly_calibration"].as_array().unwrap().len() >= 12);

    let annual: serde_json::Value = serde_json::from_str(&run(&[
        "evaluate",
        "--as-of",
        "2025-04-01",
        "--horizon-days",
        "182",
        "--unit",
        "street",
        "--json",
    ]))
    .unwrap();
    assert_eq!(annual["unit"], "street");
    assert_eq!(annual["horizon_days"], 182);
    assert_eq!(
        annual["label"], "true_potholes",
        "the demo city's own label"
    );
    assert!(
        annual["precision_at_20pct_of_length"].is_number(),
        "{annual}"
    );
    assert!(annual["baseline_worst_rating_precision_at_10pct"].is_number());
    let seeds: serde_json::Value = serde_json::from_str(&run(&[
        "evaluate",
        "--seeds",
        "2",
        "--size",
        "tiny",
        "--end",
        "2026-11-01",
        "--ablation",
        "no_probe",
        "--json",
    ]))
    .unwrap();
    let auc = &seeds["figures"]["roc_auc"];
    assert_eq!(auc["seeds"], 2, "{seeds}");
    assert!(auc["low"].as_f64().unwrap() <= auc["mean"].as_f64().unwrap());
    assert!(auc["mean"].as_f64().unwrap() <= auc["high"].as_f64().unwrap());
    assert!(seeds["figures"]["precision_at_10pct_over_oracle"]["mean"].is_number());
    let unknown = upkeep(dir.path())
        .args(["evaluate", "--seeds", "2", "--variant", "sunny"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not a generator variant"));
    let refused = upkeep(dir.path())
        .args(["evaluate", "--as-of", "2025-04-01", "--unit", "ward"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a unit"));

    assert!(run(&["train", "--model", "logistic"]).contains("now active"));
    assert!(run(&["train", "--model", "forest"]).contains("now active"));
    let scored = run(&["score"]);
    assert!(
        scored.contains("-forest"),
        "the newest model is the active one: {scored}"
    );

    let db = diesel_db(dir.path());
    let count = |sql: &str| -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(sql)
            .get_result::<N>(&mut *db.borrow_mut())
            .unwrap()
            .n
    };
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM model_versions"),
        2,
        "older models stay listed"
    );
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM model_versions WHERE active"),
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM risk_scores"),
        count("SELECT COUNT(*) AS n FROM segments"),
        "every segment scored once"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) AS n FROM risk_scores WHERE probability < 0 OR probability > 1 OR explanation NOT LIKE '%Risk is%'"
        ),
        0
    );
}

fn diesel_db(dir: &std::path::Path) -> std::cell::RefCell<diesel::SqliteConnection> {
    use diesel::Connection;
    std::cell::RefCell::new(
        diesel::SqliteConnection::establish(&dir.join("cli.db").display().to_string()).unwrap(),
    )
}

#[test]
fn import_reports_checks_with_dry_run_stores_for_real_and_fails_when_no_row_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mapping =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mappings/houston-reports.toml");
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "CASE NUMBER,SR LOCATION,SR TYPE,STATUS,SR CREATE DATE,DATE CLOSED,Title,LATITUDE,LONGITUDE,Channel Type\n\
         H-1,100 MAIN ST,Pothole,Closed,2019-05-01 08:00:00,2019-05-03 12:00:00,Pothole,29.76,-95.36,WEB\n\
         H-2,200 MAIN ST,Pothole,Open,2019-05-02 09:30:00,,Pothole,Unknown,Unknown,WAP\n\
         H-3,300 MAIN ST,Pothole,Open,yesterday,,Pothole,29.77,-95.37,WEB\n",
    )
    .unwrap();
    let summary = |args: &[&str]| -> (bool, serde_json::Value) {
        let output = upkeep(dir.path())
            .args(["import", "reports"])
            .arg(&good)
            .arg("--mapping")
            .arg(&mapping)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        (
            output.status.success(),
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}")),
        )
    };
    let (ok, checked) = summary(&["--dry-run"]);
    assert!(ok);
    assert_eq!(checked["read"], 3);
    assert_eq!(checked["imported"], 2);
    assert_eq!(checked["address_only"], 1);
    assert_eq!(checked["rejected"], 1);
    assert_eq!(checked["rejects"][0]["line"], 4);
    assert_eq!(checked["rejects"][0]["field"], "SR CREATE DATE");
    let (ok, stored) = summary(&[]);
    assert!(ok);
    assert_eq!(
        stored["imported"], 2,
        "the dry run stored nothing: {stored}"
    );
    let (ok, again) = summary(&[]);
    assert!(ok);
    assert_eq!(again["imported"], 0);
    assert_eq!(again["already_present"], 2);

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "CASE NUMBER,SR LOCATION,SR TYPE,STATUS,SR CREATE DATE,DATE CLOSED,Title,LATITUDE,LONGITUDE,Channel Type\n\
         B-1,1 ELM ST,Pothole,Lost,2019-05-01 08:00:00,,Pothole,29.76,-95.36,WEB\n",
    )
    .unwrap();
    let output = upkeep(dir.path())
        .args(["import", "reports"])
        .arg(&bad)
        .arg("--mapping")
        .arg(&mapping)
        .output()
        .unwrap();
    assert!(!output.status.success(), "a file with no good row fails");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.csv:2: STATUS: 'Lost'"), "{stderr}");
    assert!(stderr.contains("no row could be imported"), "{stderr}");
}

#[tokio::test]
async fn backup_copies_a_running_servers_database_and_never_overwrites_a_file() {
    use diesel::RunQueryDsl;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, _) = start_server(dir.path(), &[("UPKEEP_WRITE_RATE_PER_MINUTE", "0")]);
    let client = reqwest::Client::new();
    for i in 0..20 {
        let posted = client
            .post(format!("http://127.0.0.1:{port}/open311/v2/requests.json"))
            .form(&[
                ("service_code", "graffiti"),
                ("lat", &format!("{}", 43.0 + f64::from(i) * 0.01)),
                ("long", "-76.15"),
                ("attribute[offensive]", "no"),
                ("description", "Paint on the bridge"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200, "{}", posted.text().await.unwrap());
    }
    // While the server runs.
    let copy = dir.path().join("backup.db");
    let output = upkeep(dir.path())
        .arg("backup")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("copied to"));
    let _ = child.kill();
    let _ = child.wait();

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |file: &std::path::Path, sql: &str| {
        use diesel::Connection;
        let mut conn = diesel::SqliteConnection::establish(&file.display().to_string()).unwrap();
        diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n
    };
    assert_eq!(count(&copy, "SELECT COUNT(*) AS n FROM requests"), 20);
    assert_eq!(
        count(
            &copy,
            "SELECT COUNT(*) AS n FROM pragma_integrity_check WHERE integrity_check <> 'ok'"
        ),
        0
    );

    // Never over a file, and PostgreSQL has its own tools.
    let again = upkeep(dir.path())
        .arg("backup")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let postgres = upkeep(dir.path())
        .arg("backup")
        .arg(dir.path().join("pg.db"))
        .env(
            "UPKEEP_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/none",
        )
        .output()
        .unwrap();
    assert!(!postgres.status.success());
    assert!(String::from_utf8_lossy(&postgres.stderr).contains("pg_dump"));
}
