//! `spawn_app()`: the real server on a random port with a fresh database of its own.
//!
//! The backend comes from `UPKEEP_TEST_DATABASE_URL`: unset, each test gets a SQLite
//! file in a temporary folder; set to `postgres://…/db`, each test gets a new PostgreSQL
//! database created through that URL and dropped afterwards. The same tests thus run
//! against both backends.

use backend::config::DatabaseUrl;
use backend::db::Database;
use backend::domain::Role;
use backend::{Application, Settings};
use diesel::Connection;
use diesel::RunQueryDsl;
use diesel::pg::PgConnection;
use serde_json::Value;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Database,
    pub database_url: DatabaseUrl,
    _database: TestDatabase,
}

enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

fn fresh_database() -> (DatabaseUrl, TestDatabase) {
    match std::env::var("UPKEEP_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("upkeep_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("cannot reach {admin_url}: {e}"));
            diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .expect("create a test database");
            let (server, _) = admin_url.rsplit_once('/').expect("URL ends in /DATABASE");
            let url = DatabaseUrl::Postgres(format!("{server}/{name}"));
            (url, TestDatabase::Postgres { admin_url, name })
        }
        _ => {
            let dir = tempfile::tempdir().expect("temporary folder");
            let url = DatabaseUrl::Sqlite(dir.path().join("upkeep.db"));
            (url, TestDatabase::Sqlite(dir))
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server on the tiny demo city (generated and loaded at start).
pub async fn spawn_tiny_city() -> TestApp {
    spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
    })
    .await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (url, database) = fresh_database();
    let mut settings = Settings::for_database(url.clone());
    settings.database_pool_size = 4;
    configure(&mut settings);
    if std::env::var_os("TEST_LOG").is_some() {
        backend::app::init_logging(&settings);
    }
    let app = Application::build(settings)
        .await
        .expect("the server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.database().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        db,
        database_url: url,
        _database: database,
    }
}

/// A spot 12 m north of the middle of a straight east-west arterial of the tiny demo
/// city the test servers load (same seed, same day): (lat, lon, segment id).
pub fn arterial_spot() -> (f64, f64, u32) {
    use models::city::{CityParams, CitySize, generate};
    use models::network::RoadClass;
    let city = generate(
        &CityParams::demo(42, CitySize::Tiny, backend::domain::now().date()),
        &mut |_| {},
    );
    let arterial = city
        .segments
        .iter()
        .find(|s| {
            s.class == RoadClass::Arterial && (s.geometry[0].1 - s.geometry[1].1).abs() < 1e-9
        })
        .expect("a straight east-west arterial");
    (
        (arterial.geometry[0].1 + arterial.geometry[1].1) / 2.0 + 12.0 / 111_195.0,
        (arterial.geometry[0].0 + arterial.geometry[1].0) / 2.0,
        arterial.id,
    )
}

/// A pothole report that passes every check.
pub fn pothole_at(lat: f64, long: f64) -> Vec<(String, String)> {
    form(&[
        ("service_code", "pothole"),
        ("lat", &lat.to_string()),
        ("long", &long.to_string()),
        ("attribute[size]", "medium"),
        ("attribute[in_traffic_lane]", "yes"),
        ("description", "Deep hole by the bus stop"),
        ("email", "resident@example.org"),
        ("first_name", "Jo"),
        ("phone", "+1 315 555 0100"),
    ])
}

pub fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl TestApp {
    /// Starts another server on the same database, as a second stateless process in
    /// front of it would be; returns its base address.
    pub async fn spawn_second_server(&self) -> String {
        self.spawn_second_server_with(|_| {}).await
    }

    /// Another server on the same database, with settings of its own.
    pub async fn spawn_second_server_with(&self, configure: impl FnOnce(&mut Settings)) -> String {
        let mut settings = Settings::for_database(self.database_url.clone());
        settings.database_pool_size = 4;
        configure(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("the second server starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        address
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// GETs and parses a JSON body, asserting the status.
    pub async fn get_json(&self, path: &str, status: u16) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status().as_u16(), status, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// One request as Open311 shows it with `extensions=true`, asserting it exists.
    pub async fn request_with_extensions(&self, id: &str) -> Value {
        let body = self
            .get_json(
                &format!("/open311/v2/requests/{id}.json?extensions=true"),
                200,
            )
            .await;
        body[0].clone()
    }

    pub async fn get_text(&self, path: &str, status: u16) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status().as_u16(), status, "GET {path}");
        response.text().await.expect("a body")
    }

    pub async fn post_form(&self, path: &str, pairs: &[(String, String)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(pairs)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .expect("request sent")
    }

    /// Submits a report and returns its id, asserting success.
    pub async fn submit(&self, pairs: &[(String, String)]) -> String {
        let response = self.post_form("/open311/v2/requests.json", pairs).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, 200, "{body}");
        body[0]["service_request_id"]
            .as_str()
            .expect("an id")
            .to_owned()
    }

    /// Creates an API key straight in the database, as `upkeep api-key create` does.
    pub fn issue_key(&self, role: Role) -> String {
        backend::auth::issue(&self.db, "test key", role)
            .expect("key issued")
            .secret
    }

    pub async fn change_status(&self, id: &str, key: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/requests/{id}/status")))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a crew key bound to `crew_id`, as `upkeep api-key create --role crew
    /// --crew ID` does.
    pub fn crew_key(&self, crew_id: i64) -> String {
        backend::auth::issue_for_crew(&self.db, "crew phone", Role::Crew, Some(crew_id))
            .expect("key issued")
            .secret
    }

    /// Sends `body` (if any) as JSON with `method` to `path`, with `key` as bearer
    /// token (if any); returns the status and the JSON body (Null when there is none).
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Polls `path` until `ready` holds for its JSON (at most 20 s), and returns it.
    pub async fn wait_for(&self, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let started = std::time::Instant::now();
        loop {
            let body = self.get_json(path, 200).await;
            if ready(&body) {
                return body;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "GET {path} never became ready: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Trains a logistic model on the stored history and scores every segment, as
    /// `upkeep train --model logistic` and `upkeep score` do.
    pub async fn train_and_score(&self) {
        self.train_and_score_for(backend::risk::Task::default())
            .await
    }

    /// Trains a logistic model for `task` (with a stand-in ROC-AUC for its metrics) and
    /// scores with it.
    pub async fn train_and_score_for(&self, task: backend::risk::Task) {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let observed = backend::risk::observe_for(
                &db,
                task,
                backend::risk::Reading::Training,
                &mut |_| {},
            )
            .unwrap();
            backend::risk::train(
                &db,
                &observed,
                backend::risk::Kind::Logistic,
                serde_json::json!({"roc_auc": 0.9}),
                &mut |_| {},
            )
            .unwrap();
            // As `upkeep score` and the weekly job do: reading only the features' windows.
            backend::risk::score_active(&db, &mut |_| {}).unwrap();
        })
        .await
        .unwrap();
    }

    /// Counts stored rows of a table.
    pub fn count_rows(&self, table: &str) -> i64 {
        self.query_number(&format!("SELECT COUNT(*) AS n FROM {table}"))
    }

    /// Runs statements that return nothing (test set-up such as a trigger).
    pub fn execute(&self, sql: &str) {
        use diesel::connection::SimpleConnection;
        match &self.db {
            Database::Sqlite { writer, .. } => writer.get().expect("conn").batch_execute(sql),
            Database::Postgres { pool, .. } => pool.get().expect("conn").batch_execute(sql),
        }
        .expect("the statements run");
    }

    /// Whether the test server runs on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        matches!(self.db, Database::Postgres { .. })
    }

    /// Runs a query whose one row has one BIGINT column named `n`.
    pub fn query_number(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = sql.to_owned();
        let count: Count = match &self.db {
            Database::Sqlite { readers, .. } => {
                diesel::sql_query(sql).get_result(&mut readers.get().expect("conn"))
            }
            Database::Postgres { pool, .. } => {
                diesel::sql_query(sql).get_result(&mut pool.get().expect("conn"))
            }
        }
        .expect("count");
        count.n
    }
}
