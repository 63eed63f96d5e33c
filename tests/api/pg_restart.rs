//! PostgreSQL clusters of the tests' own, on other ports (never the shared one), in the
//! PostgreSQL pass: one that goes away and comes back (the server answers 503 while it
//! is gone and takes writes again within 5 s of its return, with no restart), one whose
//! disk fills, and a primary with a streaming replica that listings read.

use crate::helpers::pothole_at;
use backend::app::Application;
use backend::config::Settings;
use backend::db::DatabaseUrl;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A throw-away PostgreSQL cluster, stopped and deleted when dropped.
struct OwnPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

/// Runs a PostgreSQL program as the `postgres` user when this process is root (the
/// server refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0"));
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let bindir = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default();
        let mut bin = PathBuf::from(bindir);
        if !bin.join("initdb").exists() {
            // Debian keeps the server programs out of PATH.
            bin = std::fs::read_dir("/usr/lib/postgresql")
                .expect("PostgreSQL is installed")
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .find(|path| path.join("initdb").exists())
                .expect("initdb is installed");
        }
        let postgres = OwnPostgres::empty(bin);
        let made = as_postgres(&postgres.bin.join("initdb"))
            .args(["--auth=trust", "-U", "postgres", "-D"])
            .arg(postgres.data())
            .output()
            .expect("initdb runs");
        assert!(made.status.success(), "initdb: {made:?}");
        postgres.run();
        postgres
    }

    /// A folder the `postgres` user owns and a free port, for a cluster not yet made.
    fn empty(bin: PathBuf) -> OwnPostgres {
        let dir = tempfile::tempdir().expect("a folder for the cluster");
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        OwnPostgres { bin, dir, port }
    }

    /// A hot standby of `primary`, streaming from it (`pg_basebackup -R`).
    fn replica_of(primary: &OwnPostgres) -> OwnPostgres {
        let replica = OwnPostgres::empty(primary.bin.clone());
        let copied = as_postgres(&primary.bin.join("pg_basebackup"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "-p",
            ])
            .arg(primary.port.to_string())
            .arg("-D")
            .arg(replica.data())
            .output()
            .expect("pg_basebackup runs");
        assert!(copied.status.success(), "pg_basebackup: {copied:?}");
        replica.run();
        replica
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let started = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-w", "-l"])
            .arg(self.dir.path().join("log"))
            .arg("start")
            .output()
            .expect("pg_ctl runs");
        assert!(started.status.success(), "pg_ctl start: {started:?}");
    }

    /// Stops at once, as a crash or a cut cable would: connections just drop.
    fn kill(&self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts Upkeep on the cluster; returns its base address.
async fn serve_on(postgres: &OwnPostgres) -> String {
    let settings = Settings::for_database(DatabaseUrl::Postgres(postgres.url()));
    let app = Application::build(settings)
        .await
        .expect("the server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

async fn post(client: &reqwest::Client, address: &str) -> u16 {
    client
        .post(format!("{address}/open311/v2/requests.json"))
        .form(&pothole_at(43.05, -76.15))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test]
async fn writes_resume_within_five_seconds_of_postgresql_coming_back() {
    if !std::env::var("UPKEEP_TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres")) {
        return; // The PostgreSQL pass runs it; SQLite's faults are in `fair_load`.
    }
    let postgres = tokio::task::spawn_blocking(OwnPostgres::start)
        .await
        .unwrap();
    let address = serve_on(&postgres).await;
    let client = reqwest::Client::new();
    assert_eq!(post(&client, &address).await, 200);

    postgres.kill();
    assert_eq!(
        post(&client, &address).await,
        503,
        "refused while it is gone"
    );
    // A pool waiting for the lost server would take 5 s; /health does not wait on it.
    let asked = Instant::now();
    let health = client
        .get(format!("{address}/health"))
        .send()
        .await
        .unwrap();
    assert!(asked.elapsed() < Duration::from_secs(2), "/health waited");
    assert!(matches!(health.status().as_u16(), 200 | 503));

    postgres.run();
    let back = Instant::now();
    loop {
        if post(&client, &address).await == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "no write succeeded within 5 s of PostgreSQL's return"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "writes resumed {} ms after PostgreSQL returned",
        back.elapsed().as_millis()
    );
    // The background check catches up within its own wait.
    for _ in 0..100 {
        let health = client
            .get(format!("{address}/health"))
            .send()
            .await
            .unwrap();
        if health.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/health still reports the lost database");
}

/// Runs SQL on the test's own PostgreSQL.
fn sql(url: &str, statement: &str) -> Result<(), diesel::result::Error> {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let mut conn = diesel::pg::PgConnection::establish(url).expect("connects");
    conn.batch_execute(statement)
}

/// A small file system mounted for the test, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// None where this machine does not let the test mount one.
    fn mount(at: PathBuf, megabytes: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(&at).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&at)
            .status()
            .ok()?;
        if !mounted.success() {
            return None;
        }
        let _ = Command::new("chown")
            .arg("postgres:postgres")
            .arg(&at)
            .status();
        Some(SmallDisk(at))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_on_postgresql_gives_503_and_writes_resume_once_space_is_freed() {
    if !std::env::var("UPKEEP_TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres")) {
        return; // The PostgreSQL pass runs it; SQLite's full disk is a unit test.
    }
    let postgres = tokio::task::spawn_blocking(OwnPostgres::start)
        .await
        .unwrap();
    let Some(disk) = SmallDisk::mount(postgres.dir.path().join("small"), 24) else {
        eprintln!("SKIPPED: this machine does not allow mounting a small file system");
        return;
    };
    // Every table Upkeep creates lives on the small disk.
    sql(
        &postgres.url(),
        &format!("CREATE TABLESPACE small LOCATION '{}'", disk.0.display()),
    )
    .expect("a tablespace on the small disk");
    sql(
        &postgres.url(),
        "ALTER DATABASE postgres SET default_tablespace = small",
    )
    .expect("tables go there");
    let address = serve_on(&postgres).await;

    // Fill the disk; uncompressed, so every byte takes its place.
    let filled = tokio::task::spawn_blocking({
        let url = postgres.url();
        move || {
            sql(
                &url,
                "CREATE TABLE filler (bytes TEXT); \
                 ALTER TABLE filler ALTER COLUMN bytes SET STORAGE EXTERNAL;",
            )
            .expect("a filler table");
            (0..200).find_map(|_| {
                sql(
                    &url,
                    "INSERT INTO filler SELECT repeat('x', 1000000) FROM generate_series(1, 4)",
                )
                .err()
            })
        }
    })
    .await
    .unwrap()
    .expect("the disk fills up");
    assert!(filled.to_string().contains("No space left"), "{filled}");

    let client = reqwest::Client::new();
    let refused = client
        .post(format!("{address}/open311/v2/requests.json"))
        .form(&pothole_at(43.05, -76.15))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let body = refused.text().await.unwrap();
    assert!(body.contains("storage is full"), "{body}");

    sql(&postgres.url(), "DROP TABLE filler").expect("space freed");
    assert_eq!(post(&client, &address).await, 200);
    drop(postgres);
    drop(disk);
}

/// Whether the Open311 list holds report `id`.
async fn listed(client: &reqwest::Client, address: &str, id: &str) -> bool {
    let list: serde_json::Value = client
        .get(format!("{address}/open311/v2/requests.json?page_size=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .any(|r| r["service_request_id"] == id)
}

async fn submit(client: &reqwest::Client, address: &str) -> String {
    let answer: serde_json::Value = client
        .post(format!("{address}/open311/v2/requests.json"))
        .form(&pothole_at(43.05, -76.15))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer[0]["service_request_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn listings_read_the_replica_while_a_resident_sees_their_own_report_at_once() {
    if !std::env::var("UPKEEP_TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres")) {
        return; // The PostgreSQL pass runs it.
    }
    let (primary, replica) = tokio::task::spawn_blocking(|| {
        let primary = OwnPostgres::start();
        let replica = OwnPostgres::replica_of(&primary);
        (primary, replica)
    })
    .await
    .unwrap();
    let mut settings = Settings::for_database(DatabaseUrl::Postgres(primary.url()));
    settings.database_read_url = Some(DatabaseUrl::Postgres(replica.url()));
    let app = Application::build(settings)
        .await
        .expect("the server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    let first = submit(&client, &address).await;
    let caught_up = Instant::now();
    while !listed(&client, &address, &first).await {
        assert!(
            caught_up.elapsed() < Duration::from_secs(10),
            "the replica catches up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The replica stops replaying: it lags as far as anyone likes.
    sql(&replica.url(), "SELECT pg_wal_replay_pause()").expect("paused");
    let second = submit(&client, &address).await;
    // Its reporter reads it at once, from the primary, on both APIs.
    let own = client
        .get(format!(
            "{address}/open311/v2/requests/{second}.json?extensions=true"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let own: serde_json::Value = own.json().await.unwrap();
    assert_eq!(own[0]["service_request_id"], second.as_str());
    // Its history too, read where it was found.
    assert!(!own[0]["notes"].as_array().unwrap().is_empty(), "{own}");
    let native = client
        .get(format!("{address}/api/v1/reports/{second}"))
        .send()
        .await
        .unwrap();
    assert_eq!(native.status(), 200);
    // Listings come from the replica, which has not seen it.
    assert!(listed(&client, &address, &first).await);
    assert!(
        !listed(&client, &address, &second).await,
        "the list is the replica's"
    );

    sql(&replica.url(), "SELECT pg_wal_replay_resume()").expect("resumed");
    let resumed = Instant::now();
    while !listed(&client, &address, &second).await {
        assert!(
            resumed.elapsed() < Duration::from_secs(10),
            "the replica catches up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
