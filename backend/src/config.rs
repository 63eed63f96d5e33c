//! Typed, layered configuration: built-in defaults, then an optional TOML file, then
//! `UPKEEP_…` environment variables (for example `UPKEEP_DATABASE_URL`, `UPKEEP_BIND`).
//!
//! Keys are flat so that every setting has the same name in the file and, upper-cased
//! behind `UPKEEP_`, in the environment. [`Settings::load`] validates everything at
//! start-up and names the offending setting, so a typo fails loudly instead of at the
//! first request.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use crate::db::DatabaseUrl;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The settings as they appear in the file and the environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    bind: String,
    database_url: String,
    database_read_url: Option<String>,
    database_pool_size: u32,
    public_url: Option<String>,
    trusted_proxies: String,
    catalogue_path: Option<PathBuf>,
    jurisdiction_id: String,
    require_api_key: bool,
    body_limit_bytes: usize,
    media_limit_bytes: usize,
    batch_accept_delay_seconds: u64,
    max_page_size: u32,
    city_name: String,
    contact: String,
    key_service: String,
    city_bounds: Option<[f64; 4]>,
    log_format: LogFormat,
    log_level: String,
    shutdown_timeout_seconds: u64,
    demo: bool,
    demo_seed: u64,
    demo_size: String,
    snap_limit_m: f64,
    risk_rescore_hours: u64,
    risk_train_on_start: bool,
    risk_unit: String,
    risk_cell_m: f64,
    risk_horizon: String,
    risk_annual_from: String,
    inspections_per_crew_per_week: u32,
    write_rate_per_minute: u32,
    smtp_url: Option<String>,
    mail_from: String,
    outbox_dir: PathBuf,
    alerts_daily_limit: u32,
    alerts_per_address: u32,
    webhooks_allow_private: bool,
    /// A table, the one exception to flat keys: `[priority_weights]` in the file.
    priority_weights: crate::priority::Weights,
}

impl Default for RawSettings {
    fn default() -> Self {
        RawSettings {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://./upkeep.db".into(),
            database_read_url: None,
            database_pool_size: 8,
            public_url: None,
            trusted_proxies: String::new(),
            catalogue_path: None,
            jurisdiction_id: "upkeep.local".into(),
            require_api_key: false,
            body_limit_bytes: 64 * 1024,
            media_limit_bytes: 10 * 1024 * 1024,
            batch_accept_delay_seconds: 60,
            max_page_size: 1000,
            city_name: "Upkeep demo city".into(),
            contact: "Public works desk, works@upkeep.local".into(),
            key_service: "Ask the public works desk for an API key.".into(),
            city_bounds: None,
            log_format: LogFormat::Pretty,
            log_level: "info".into(),
            shutdown_timeout_seconds: 10,
            demo: true,
            demo_seed: 42,
            demo_size: "small".into(),
            snap_limit_m: 50.0,
            risk_rescore_hours: 24,
            risk_train_on_start: true,
            risk_unit: "segment".into(),
            risk_cell_m: 500.0,
            risk_horizon: "28d".into(),
            risk_annual_from: "04-01".into(),
            inspections_per_crew_per_week: 20,
            write_rate_per_minute: 60,
            smtp_url: None,
            mail_from: "Upkeep <no-reply@upkeep.local>".into(),
            outbox_dir: PathBuf::from("./outbox"),
            alerts_daily_limit: 20,
            alerts_per_address: 10,
            webhooks_allow_private: false,
            priority_weights: crate::priority::Weights::default(),
        }
    }
}

/// Validated settings, passed to whatever needs them (never a global).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (the tests use it).
    pub bind: SocketAddr,
    pub database_url: DatabaseUrl,
    /// A PostgreSQL streaming replica for listings and searches, which may lag the
    /// primary by a moment; a report just written is always read from the primary.
    pub database_read_url: Option<DatabaseUrl>,
    /// Connections per pool (SQLite readers, or PostgreSQL connections).
    pub database_pool_size: u32,
    /// Base URL that clients reach this server at, used for `media_url`s; when unset, the
    /// request's own scheme and Host header are used.
    pub public_url: Option<String>,
    /// Addresses of the reverse proxies whose `Forwarded` / `X-Forwarded-*` headers are
    /// believed, when `public_url` is not set (`UPKEEP_TRUSTED_PROXIES`, comma-separated
    /// IPs). From anyone else those headers are ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// TOML file that seeds the service catalogue on first start; None: the copy of
    /// `data/services.toml` built into the binary.
    pub catalogue_path: Option<PathBuf>,
    pub jurisdiction_id: String,
    /// When true, POSTs to Open311 need a valid `api_key`; the demo leaves it open.
    pub require_api_key: bool,
    /// Largest accepted form body, in bytes (413 beyond it).
    pub body_limit_bytes: usize,
    /// Largest accepted multipart body with photos, in bytes (413 beyond it).
    pub media_limit_bytes: usize,
    /// How long a request to a `batch` service waits before it is accepted, in seconds.
    pub batch_accept_delay_seconds: u64,
    /// Largest `page_size` a client may ask for; also the default page size.
    pub max_page_size: u32,
    pub city_name: String,
    pub contact: String,
    pub key_service: String,
    /// `[west, south, east, north]` in degrees: where services are offered. None: anywhere.
    pub city_bounds: Option<[f64; 4]>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub shutdown_timeout_seconds: u64,
    /// Load the small demo city when `serve` starts on an empty database.
    pub demo: bool,
    /// Seed of that demo city.
    pub demo_seed: u64,
    /// Its size: tiny, small (the default) or large.
    pub demo_size: models::city::CitySize,
    /// Reports snap to the nearest road segment within this many metres.
    pub snap_limit_m: f64,
    /// Re-score every segment with the active model when the last scores are this many
    /// hours old; 0 never.
    pub risk_rescore_hours: u64,
    /// Train and score a first model in the background when none is active.
    pub risk_train_on_start: bool,
    /// What the next model trained predicts (`risk_unit`: segment or cell, `risk_cell_m`,
    /// `risk_horizon`: 28d, season or year, `risk_annual_from`: MM-DD). Scoring, the map
    /// and the priorities follow the active model's own.
    pub risk_task: crate::risk::Task,
    /// Proactive inspections planned each week for the riskiest segments, per crew that
    /// handles road-surface defects; 0 none. They fill the capacity reports leave (see
    /// BENCHMARKS.md, operational replay).
    pub inspections_per_crew_per_week: u32,
    /// Writes each API key, or each address without a key, may make per minute (as many
    /// at once); 429 with `Retry-After` beyond it. 0: no limit, for load tests and
    /// benchmarks.
    pub write_rate_per_minute: u32,
    /// Where e-mail goes: an SMTP server (`smtp://host:25`, `smtp://host:587?tls=required`
    /// for STARTTLS, `smtps://user:password@host:465`); when unset, each message is
    /// written as a file to `outbox_dir` instead.
    pub smtp_url: Option<String>,
    /// The `From` of every message (`Name <address>`).
    pub mail_from: lettre::message::Mailbox,
    pub outbox_dir: PathBuf,
    /// Messages one address may be sent in 24 hours (confirmations and digests alike).
    pub alerts_daily_limit: u32,
    /// Subscriptions, pending or confirmed, one address may hold.
    pub alerts_per_address: u32,
    /// Let webhooks reach loopback and private addresses over plain http: for tests and
    /// closed networks only. Otherwise a webhook must be https to a public address.
    pub webhooks_allow_private: bool,
    /// Priority weights until a planner sets others through the API.
    pub priority_weights: crate::priority::Weights,
}

/// A setting that could not be read or does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Read(#[from] Box<figment::Error>),
    #[error("setting `{setting}` is invalid: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        reason: reason.into(),
    }
}

impl Settings {
    /// Defaults, then `file` (if given, it must exist; otherwise `./upkeep.toml` if present),
    /// then `UPKEEP_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(invalid(
                        "config",
                        format!("file {} does not exist", path.display()),
                    ));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("upkeep.toml")),
        }
        // UPKEEP_CONFIG names the file itself, and the test and CI variables belong to
        // the test harness: none of them is a setting.
        figment = figment.merge(Env::prefixed("UPKEEP_").ignore(&[
            "CONFIG",
            "TEST_DATABASE_URL",
            "CI_POSTGRES_URL",
        ]));
        let raw: RawSettings = figment.extract().map_err(Box::new)?;
        Settings::validate(raw)
    }

    /// Settings for tests and tools: defaults with the given database, port 0 and no
    /// demo city.
    pub fn for_database(database_url: DatabaseUrl) -> Settings {
        let mut settings =
            Settings::validate(RawSettings::default()).expect("the built-in defaults are valid");
        settings.database_url = database_url;
        settings.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.demo = false;
        settings.risk_train_on_start = false;
        // Tests post hundreds of reports from one address; the limits have tests of
        // their own.
        settings.write_rate_per_minute = 0;
        settings
    }

    /// Where residents reach Upkeep, for links in messages written away from any
    /// request: `public_url`, else the address the server listens on. Never a header.
    pub fn public_base(&self) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        if self.bind.ip().is_unspecified() {
            format!("http://localhost:{}", self.bind.port())
        } else {
            format!("http://{}", self.bind)
        }
    }

    fn validate(raw: RawSettings) -> Result<Settings, ConfigError> {
        let bind = raw.bind.parse().map_err(|_| {
            invalid(
                "bind",
                format!(
                    "'{}' is not an ADDRESS:PORT such as 127.0.0.1:8080",
                    raw.bind
                ),
            )
        })?;
        let database_url = DatabaseUrl::parse(&raw.database_url)
            .map_err(|reason| invalid("database_url", reason))?;
        let database_read_url = match raw.database_read_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(u) => match (DatabaseUrl::parse(&u), &database_url) {
                (Ok(replica @ DatabaseUrl::Postgres(_)), DatabaseUrl::Postgres(_)) => Some(replica),
                (Err(reason), _) => return Err(invalid("database_read_url", reason)),
                _ => {
                    return Err(invalid(
                        "database_read_url",
                        "a read replica is a PostgreSQL standby, with database_url on its primary",
                    ));
                }
            },
        };
        if !(1..=256).contains(&raw.database_pool_size) {
            return Err(invalid("database_pool_size", "must be between 1 and 256"));
        }
        let public_url = match raw.public_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(u) => {
                let parsed = url::Url::parse(&u)
                    .map_err(|e| invalid("public_url", format!("'{u}' is not a URL: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(invalid("public_url", "must start with http:// or https://"));
                }
                Some(u.trim_end_matches('/').to_owned())
            }
        };
        let trusted_proxies = raw
            .trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse()
                    .map_err(|_| invalid("trusted_proxies", format!("'{p}' is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(path) = &raw.catalogue_path
            && !path.is_file()
        {
            return Err(invalid(
                "catalogue_path",
                format!("{} is not a readable file", path.display()),
            ));
        }
        if raw.body_limit_bytes < 1024 {
            return Err(invalid("body_limit_bytes", "must be at least 1024"));
        }
        if raw.media_limit_bytes < raw.body_limit_bytes {
            return Err(invalid(
                "media_limit_bytes",
                "must be at least body_limit_bytes",
            ));
        }
        if !(1..=10_000).contains(&raw.max_page_size) {
            return Err(invalid("max_page_size", "must be between 1 and 10000"));
        }
        if raw.jurisdiction_id.trim().is_empty() {
            return Err(invalid("jurisdiction_id", "must not be empty"));
        }
        if let Some([west, south, east, north]) = raw.city_bounds {
            let ok = (-180.0..=180.0).contains(&west)
                && (-180.0..=180.0).contains(&east)
                && (-90.0..=90.0).contains(&south)
                && (-90.0..=90.0).contains(&north)
                && west < east
                && south < north;
            if !ok {
                return Err(invalid(
                    "city_bounds",
                    "must be [west, south, east, north] in degrees with west < east and south < north",
                ));
            }
        }
        if !(raw.snap_limit_m.is_finite() && (0.0..=1000.0).contains(&raw.snap_limit_m)) {
            return Err(invalid("snap_limit_m", "must be between 0 and 1000 metres"));
        }
        if raw.inspections_per_crew_per_week > 1_000 {
            return Err(invalid(
                "inspections_per_crew_per_week",
                "must be at most 1000 orders",
            ));
        }
        let risk_task = {
            let unit = raw
                .risk_unit
                .parse()
                .map_err(|reason| invalid("risk_unit", reason))?;
            let horizon = models::risk::Horizon::parse(&raw.risk_horizon, &raw.risk_annual_from)
                .map_err(|reason| {
                    let setting = if reason.contains("day of the year") {
                        "risk_annual_from"
                    } else {
                        "risk_horizon"
                    };
                    invalid(setting, reason)
                })?;
            crate::risk::Task::new(unit, raw.risk_cell_m, horizon).map_err(|reason| {
                let setting = if unit == models::risk::Unit::Street {
                    "risk_unit"
                } else {
                    "risk_cell_m"
                };
                invalid(setting, reason)
            })?
        };
        let smtp_url = raw.smtp_url.filter(|u| !u.trim().is_empty());
        if let Some(u) = &smtp_url {
            lettre::SmtpTransport::from_url(u).map_err(|e| {
                invalid(
                    "smtp_url",
                    format!("is not an SMTP URL such as smtp://host:25 ({e})"),
                )
            })?;
        }
        let mail_from = raw.mail_from.parse().map_err(|_| {
            invalid(
                "mail_from",
                format!(
                    "'{}' is not an address such as 'Upkeep <no-reply@city.example>'",
                    raw.mail_from
                ),
            )
        })?;
        if !(1..=1000).contains(&raw.alerts_daily_limit) {
            return Err(invalid("alerts_daily_limit", "must be between 1 and 1000"));
        }
        if !(1..=1000).contains(&raw.alerts_per_address) {
            return Err(invalid("alerts_per_address", "must be between 1 and 1000"));
        }
        raw.priority_weights
            .check()
            .map_err(|e| invalid("priority_weights", e.to_string()))?;
        if tracing_subscriber::EnvFilter::try_new(&raw.log_level).is_err() {
            return Err(invalid(
                "log_level",
                format!(
                    "'{}' is not a level or filter such as info or upkeep=debug",
                    raw.log_level
                ),
            ));
        }
        Ok(Settings {
            bind,
            database_url,
            database_read_url,
            database_pool_size: raw.database_pool_size,
            public_url,
            trusted_proxies,
            catalogue_path: raw.catalogue_path,
            jurisdiction_id: raw.jurisdiction_id,
            require_api_key: raw.require_api_key,
            body_limit_bytes: raw.body_limit_bytes,
            media_limit_bytes: raw.media_limit_bytes,
            batch_accept_delay_seconds: raw.batch_accept_delay_seconds,
            max_page_size: raw.max_page_size,
            city_name: raw.city_name,
            contact: raw.contact,
            key_service: raw.key_service,
            city_bounds: raw.city_bounds,
            log_format: raw.log_format,
            log_level: raw.log_level,
            shutdown_timeout_seconds: raw.shutdown_timeout_seconds,
            demo: raw.demo,
            demo_seed: raw.demo_seed,
            demo_size: models::city::CitySize::parse(&raw.demo_size)
                .map_err(|reason| invalid("demo_size", reason))?,
            snap_limit_m: raw.snap_limit_m,
            risk_rescore_hours: raw.risk_rescore_hours,
            risk_train_on_start: raw.risk_train_on_start,
            risk_task,
            inspections_per_crew_per_week: raw.inspections_per_crew_per_week,
            write_rate_per_minute: raw.write_rate_per_minute,
            smtp_url,
            mail_from,
            outbox_dir: raw.outbox_dir,
            alerts_daily_limit: raw.alerts_daily_limit,
            alerts_per_address: raw.alerts_per_address,
            webhooks_allow_private: raw.webhooks_allow_private,
            priority_weights: raw.priority_weights,
        })
    }
}

#[cfg(test)]
// figment's test jail fixes the closure's error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_pick_the_backend_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./x.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("./x.db")))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@localhost/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn passwords_never_appear_when_a_database_url_is_printed() {
        let url = DatabaseUrl::parse("postgres://u:secret@localhost/db").unwrap();
        assert!(!format!("{url}").contains("secret"));
        assert!(!format!("{url:?}").contains("secret"));
    }

    #[test]
    fn a_bad_bind_address_is_named_in_the_error() {
        let raw = RawSettings {
            bind: "localhost".into(),
            ..RawSettings::default()
        };
        let err = Settings::validate(raw).unwrap_err().to_string();
        assert!(err.contains("`bind`"), "{err}");
    }

    #[test]
    fn inverted_city_bounds_are_rejected() {
        let raw = RawSettings {
            city_bounds: Some([10.0, 50.0, 9.0, 51.0]),
            ..RawSettings::default()
        };
        let err = Settings::validate(raw).unwrap_err().to_string();
        assert!(err.contains("city_bounds"), "{err}");
    }

    #[test]
    fn a_read_replica_needs_postgresql_on_both_sides() {
        let err = |primary: &str, replica: &str| {
            Settings::validate(RawSettings {
                database_url: primary.into(),
                database_read_url: Some(replica.into()),
                ..RawSettings::default()
            })
            .map(|s| s.database_read_url.is_some())
            .map_err(|e| e.to_string())
        };
        assert!(
            err("sqlite://./a.db", "postgres://h/db")
                .unwrap_err()
                .contains("database_read_url")
        );
        assert!(
            err("postgres://h/db", "sqlite://./a.db")
                .unwrap_err()
                .contains("database_read_url")
        );
        assert!(
            err("postgres://h/db", "mysql://h/db")
                .unwrap_err()
                .contains("database_read_url")
        );
        assert_eq!(err("postgres://p/db", "postgres://r/db"), Ok(true));
        assert_eq!(err("sqlite://./a.db", " "), Ok(false), "blank is unset");
    }

    #[test]
    fn each_risk_setting_that_makes_no_sense_is_named() {
        let named = |raw: RawSettings| Settings::validate(raw).unwrap_err().to_string();
        for (raw, setting) in [
            (
                RawSettings {
                    risk_unit: "street".into(),
                    ..RawSettings::default()
                },
                "`risk_unit`",
            ),
            (
                RawSettings {
                    risk_unit: "hexagon".into(),
                    ..RawSettings::default()
                },
                "`risk_unit`",
            ),
            (
                RawSettings {
                    risk_unit: "cell".into(),
                    risk_cell_m: 5.0,
                    ..RawSettings::default()
                },
                "`risk_cell_m`",
            ),
            (
                RawSettings {
                    risk_horizon: "week".into(),
                    ..RawSettings::default()
                },
                "`risk_horizon`",
            ),
            (
                RawSettings {
                    risk_horizon: "season".into(),
                    risk_annual_from: "13-01".into(),
                    ..RawSettings::default()
                },
                "`risk_annual_from`",
            ),
        ] {
            let err = named(raw);
            assert!(err.contains(setting), "{err}");
        }
        let cells = Settings::validate(RawSettings {
            risk_unit: "cell".into(),
            risk_cell_m: 1000.0,
            risk_horizon: "year".into(),
            ..RawSettings::default()
        })
        .expect("valid");
        assert_eq!(cells.risk_task.unit, models::risk::Unit::Cell);
        assert_eq!(cells.risk_task.horizon.days(), 365);
    }

    #[test]
    fn a_file_then_the_environment_override_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "upkeep.toml",
                "bind = \"127.0.0.1:9000\"\nmax_page_size = 50\n",
            )?;
            jail.set_env("UPKEEP_MAX_PAGE_SIZE", "20");
            let settings = Settings::load(None).expect("valid");
            assert_eq!(settings.bind.port(), 9000);
            assert_eq!(settings.max_page_size, 20);
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("upkeep.toml", "bnid = \"127.0.0.1:9000\"\n")?;
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("bnid"), "{err}");
            Ok(())
        });
    }
}
