//! Building and running the server.

use crate::catalogue;
use crate::catalogue_cache::CatalogueCache;
use crate::config::{LogFormat, Settings};
use crate::db::Database;
use crate::domain::now;
use crate::http::api::{ApiError, ErrorKind};
use crate::http::{self, AppState};
use crate::intake::ReportWriter;
use crate::spatial::SegmentCache;
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;
use chrono::Duration as ChronoDuration;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// How long the catalogue is cached before it is read again.
const CATALOGUE_TTL: Duration = Duration::from_secs(5);

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    state: Arc<AppState>,
}

impl Application {
    /// Opens and migrates the database, seeds the catalogue, binds the listener (port 0
    /// picks a free one) and starts background work. Needs a running Tokio runtime.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db_settings = settings.clone();
        let (db, segments, source_salt) = tokio::task::spawn_blocking(
            move || -> anyhow::Result<(Database, SegmentCache, String)> {
                let db = Database::open(&db_settings.database_url, db_settings.database_pool_size)
                    .with_context(|| {
                        format!("cannot open the database {}", db_settings.database_url)
                    })?;
                // A server that cannot write would take reports only to lose them.
                db.check_writable().with_context(|| {
                    format!(
                        "the database {} takes no writes (check its file's permissions, the \
                         free space, or that it is not a read-only replica)",
                        db_settings.database_url
                    )
                })?;
                let db = match &db_settings.database_read_url {
                    Some(replica) => db
                        .with_replica(replica, db_settings.database_pool_size)
                        .with_context(|| format!("cannot use the read replica {replica}"))?,
                    None => db,
                };
                let source_salt = db.read(crate::db::installation::source_salt)?;
                let services = catalogue::load(db_settings.catalogue_path.as_deref())?;
                let added = db.write(|conn| crate::db::services::seed(conn, &services))?;
                if added > 0 {
                    tracing::info!(added, "seeded the service catalogue");
                }
                if db_settings.demo && crate::demo::wants_demo(&db)? {
                    load_demo_city(
                        &db,
                        db_settings.demo_seed,
                        db_settings.demo_size,
                        db_settings.snap_limit_m,
                    )?;
                }
                let segments = crate::roads::load_index(&db)?;
                Ok((db, segments, source_salt))
            },
        )
        .await??;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        // The address actually bound (port 0 picks one), for URLs when no public_url is set.
        let mut settings = settings;
        settings.bind = listener.local_addr()?;
        let state = Arc::new(AppState {
            catalogue: CatalogueCache::new(db.clone(), CATALOGUE_TTL),
            writer: ReportWriter::start(db.clone()),
            segments,
            db,
            risk: crate::risk::Runner::default(),
            work_orders_due: tokio::sync::Notify::new(),
            reported_issues: Default::default(),
            latest_run: crate::risk::RunCache::default(),
            tiles: crate::tiles::TileCache::default(),
            report_index: crate::report_index::ReportIndex::default(),
            // Half the connections at most go to expensive reads; the rest stay free for
            // single reports and writes.
            limits: http::limits::Limits::new(
                settings.write_rate_per_minute,
                usize::try_from(settings.database_pool_size / 2).unwrap_or(1),
            ),
            // Both were just proved by the start-up write.
            health: std::sync::RwLock::new(http::DatabaseHealth {
                checked_at: Some(now()),
                ..Default::default()
            }),
            source_salt,
            settings,
        });
        let server = serve(listener, state.clone())?;
        tokio::spawn(accept_batch_requests(state.clone()));
        tokio::spawn(refresh_segments(state.clone()));
        tokio::spawn(maintain_report_index(state.clone()));
        tokio::spawn(maintain_risk(state.clone()));
        tokio::spawn(maintain_work_orders(state.clone()));
        tokio::spawn(maintain_summaries(state.clone()));
        tokio::spawn(maintain_alerts(state.clone()));
        tokio::spawn(watch_database(state.clone()));
        tracing::info!(
            port,
            database = %state.settings.database_url,
            "Upkeep is ready"
        );
        Ok(Application {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn database(&self) -> &Database {
        &self.state.db
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes requests in flight and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn serve(listener: TcpListener, state: Arc<AppState>) -> anyhow::Result<Server> {
    let shutdown_timeout = state.settings.shutdown_timeout_seconds;
    let body_limit = state.settings.body_limit_bytes;
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let json = web::JsonConfig::default()
            .limit(body_limit)
            .error_handler(|err, _req| {
                let status = match &err {
                    actix_web::error::JsonPayloadError::Overflow { .. }
                    | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                        StatusCode::PAYLOAD_TOO_LARGE
                    }
                    actix_web::error::JsonPayloadError::ContentType => {
                        StatusCode::UNSUPPORTED_MEDIA_TYPE
                    }
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(
                    status,
                    ErrorKind::InvalidBody,
                    format!("the JSON body was not accepted: {err}"),
                )
                .into()
            });
        App::new()
            .app_data(data.clone())
            .app_data(json)
            // Pages, scripts and GeoJSON shrink several times with gzip.
            .wrap(actix_web::middleware::Compress::default())
            .wrap(middleware::from_fn(http::middleware::clean_text))
            // After roles (which found the caller), before any body is read.
            .wrap(middleware::from_fn(http::limits::limit_writes))
            // Roles before bodies: outside `clean_text`, so nothing is read first.
            .wrap(middleware::from_fn(http::middleware::roles_first))
            // No browser guesses a type other than the one Upkeep declares, on any
            // answer (errors and JSON included), so stored text never runs as a page.
            .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .wrap(middleware::from_fn(http::middleware::request_log))
            .configure(http::routes)
    })
    .shutdown_timeout(shutdown_timeout)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Accepts queued requests to batch services once they have waited the configured delay.
/// Every server runs this; the update is idempotent, so several at once do no harm.
async fn accept_batch_requests(state: Arc<AppState>) {
    let delay = ChronoDuration::seconds(
        i64::try_from(state.settings.batch_accept_delay_seconds).unwrap_or(i64::MAX / 1000),
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let worker = state.clone();
        let accepted = tokio::task::spawn_blocking(move || {
            let at = now();
            worker
                .db
                .write(|conn| crate::db::requests::accept_queued(conn, at - delay, at))
        })
        .await;
        match accepted {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => tracing::info!(count, "accepted queued batch requests"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not accept queued batch requests"),
            Err(_) => return,
        }
    }
}

/// How often the database is checked for `/health`.
const HEALTH_CHECK: Duration = Duration::from_secs(1);
/// How long a check waits for the database before calling it unreachable.
const HEALTH_WAIT: Duration = Duration::from_secs(3);

/// Checks the database every second, off the request path, and keeps what it found for
/// `/health`: whether reads work, and whether writes do. After a write fails for a fault
/// of the database (read-only, full, unreachable) it tries a small write each time, so
/// the fault clears as soon as the database takes writes again, with no restart.
/// Forgets idle rate-limit sources once a minute.
async fn watch_database(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(HEALTH_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut checks: u64 = 0;
    let mut pending = None;
    loop {
        tick.tick().await;
        checks += 1;
        if checks.is_multiple_of(60) {
            state.limits.forget_idle_sources();
        }
        // A check still waiting on the database is waited for again, not doubled.
        let mut check = match pending.take() {
            Some(check) => check,
            None => {
                let worker = state.clone();
                tokio::task::spawn_blocking(move || {
                    let reads = worker.db.ping().err().map(|e| {
                        tracing::warn!(error = %e, "database reads fail");
                        e.public_reason().to_owned()
                    });
                    if worker.db.write_fault().is_some() {
                        // Its outcome is recorded by the database handle itself.
                        let _ = worker.db.check_writable();
                    }
                    (reads, worker.db.write_fault())
                })
            }
        };
        let (reads, writes) = match tokio::time::timeout(HEALTH_WAIT, &mut check).await {
            Ok(Ok(found)) => found,
            Ok(Err(_)) => return,
            Err(_) => {
                pending = Some(check);
                let late = format!(
                    "the database did not answer within {} s",
                    HEALTH_WAIT.as_secs()
                );
                (Some(late.clone()), Some(late))
            }
        };
        if let Ok(mut health) = state.health.write() {
            *health = http::DatabaseHealth {
                reads,
                writes,
                checked_at: Some(now()),
            };
        }
    }
}

/// How often the index of report positions reads what was accepted since (searches
/// catch up by id themselves; this finds late commits and queued reports accepted).
const REPORT_INDEX_EVERY: Duration = Duration::from_secs(5);
/// Every this many reads (a minute), it also compares its size with the database's count.
const REPORT_INDEX_RECOUNT: u64 = 12;

/// Keeps the in-memory index of report positions in step with the database.
async fn maintain_report_index(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(REPORT_INDEX_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reads: u64 = 0;
    loop {
        tick.tick().await;
        reads += 1;
        let worker = state.clone();
        let first = !state.report_index.is_ready();
        let recount = reads.is_multiple_of(REPORT_INDEX_RECOUNT);
        let started = std::time::Instant::now();
        match tokio::task::spawn_blocking(move || worker.report_index.sync(&worker.db, recount))
            .await
        {
            Ok(Ok(added)) if first => tracing::info!(
                reports = added,
                seconds = started.elapsed().as_secs_f64(),
                "report positions indexed"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not read new report positions"),
            Err(_) => return,
        }
    }
}

/// How often a server checks whether road segments changed (on any server).
const SEGMENT_REFRESH: Duration = Duration::from_secs(10);

/// Keeps the snapping index in step with the stored segments.
async fn refresh_segments(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(SEGMENT_REFRESH);
    tick.tick().await;
    loop {
        tick.tick().await;
        let worker = state.clone();
        match tokio::task::spawn_blocking(move || {
            crate::roads::refresh_index(&worker.db, &worker.segments)
        })
        .await
        {
            Ok(Ok(true)) => tracing::info!("road segments changed: snapping index rebuilt"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not check road segments"),
            Err(_) => return,
        }
    }
}

/// How often a server checks whether the risk scores are due.
const RISK_CHECK: Duration = Duration::from_secs(600);

/// Trains a first model when none is active or the active one predicts another task
/// than the settings (if configured), and re-scores every segment or cell when the last
/// scores are older than `risk_rescore_hours`. Every server checks; the cluster's lease
/// lets one run. A model missing or outdated is trained again at any check (its
/// trainer may have died); another task than the settings' only at start, since a
/// planner may have trained one by hand since.
async fn maintain_risk(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(RISK_CHECK);
    let mut at_start = true;
    loop {
        tick.tick().await;
        let worker = state.clone();
        let due = tokio::task::spawn_blocking(move || risk_due(&worker, at_start)).await;
        at_start = false;
        let start = match due {
            Ok(Ok(RiskDue::Training)) => {
                let worker = state.clone();
                tokio::task::spawn_blocking(move || {
                    crate::http::risk::spawn_training(worker, "start-up".into())
                })
                .await
            }
            Ok(Ok(RiskDue::Scoring)) => {
                let worker = state.clone();
                tokio::task::spawn_blocking(move || crate::http::risk::spawn_scoring(worker)).await
            }
            Ok(Ok(RiskDue::Nothing)) => continue,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not check the risk model");
                continue;
            }
            Err(_) => return,
        };
        if let Ok(Err(e)) = start {
            tracing::warn!(error = %e, "could not start a risk run");
        }
    }
}

/// How often the summaries pages read are computed again. They count a year or twelve
/// weeks of issues; on a city of two million reports each computation reads for about
/// three seconds of a core, which once a minute took a twentieth of a core from intake.
const SUMMARY_EVERY: Duration = Duration::from_secs(300);

/// Computes the summaries (the neighbourhood dashboard, the planner's statistics) at
/// start and then every five minutes, once per cluster: the server holding the lease
/// does it.
async fn maintain_summaries(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(SUMMARY_EVERY);
    loop {
        tick.tick().await;
        let worker = state.clone();
        let done = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let holder = worker.risk.server_id();
            let Some(_lease) = crate::leases::hold(&worker.db, crate::leases::SUMMARIES, holder)?
            else {
                return Ok(());
            };
            let catalogue = worker.catalogue.get()?;
            let at = now();
            crate::neighbourhoods::refresh(&worker.db, &catalogue, at)?;
            crate::stats::summaries::refresh(&worker.db, at)?;
            Ok(())
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not compute the summaries"),
            Err(_) => return,
        }
    }
}

/// How often digests, webhook batches and the outbox are seen to.
const ALERTS_EVERY: Duration = Duration::from_secs(5);

/// Queues digests and webhook batches and sends what the outbox holds, once per
/// cluster: the server holding the `alerts` lease does it.
async fn maintain_alerts(state: Arc<AppState>) {
    let mailer = match crate::alerts::delivery::Mailer::new(&state.settings) {
        Ok(mailer) => Arc::new(mailer),
        Err(e) => {
            tracing::error!(error = %e, "no messages will be sent");
            return;
        }
    };
    let mut tick = tokio::time::interval(ALERTS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (worker, mailer) = (state.clone(), mailer.clone());
        let done = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let holder = worker.risk.server_id();
            let Some(_lease) = crate::leases::hold(&worker.db, crate::leases::ALERTS, holder)?
            else {
                return Ok(());
            };
            let catalogue = worker.catalogue.get()?;
            let settings = &worker.settings;
            crate::alerts::digests::run(
                &worker.db,
                settings,
                &worker.source_salt,
                &catalogue,
                now(),
            )?;
            crate::alerts::webhooks::enqueue_batches(&worker.db)?;
            crate::alerts::delivery::deliver_due(&worker.db, &mailer, settings, holder)?;
            Ok(())
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not see to alerts"),
            Err(_) => return,
        }
    }
}

/// What the risk model needs now.
enum RiskDue {
    Training,
    Scoring,
    Nothing,
}

fn risk_due(state: &AppState, at_start: bool) -> Result<RiskDue, crate::db::DbError> {
    let settings = &state.settings;
    let model = state.db.read(crate::db::risk::active_model)?;
    if settings.risk_train_on_start {
        let needed = match &model {
            // None yet, or one an upgrade left behind.
            None => true,
            Some(m) if !crate::risk::is_current(m) => true,
            Some(m) => {
                at_start && !crate::risk::Task::of_model(m).predicts_like(&settings.risk_task)
            }
        };
        if needed {
            return Ok(RiskDue::Training);
        }
    }
    let (Some(model), true) = (model, settings.risk_rescore_hours > 0) else {
        return Ok(RiskDue::Nothing);
    };
    let due_after = ChronoDuration::hours(
        i64::try_from(settings.risk_rescore_hours).unwrap_or(i64::MAX / 3_600_000),
    );
    let last = state
        .db
        .read(|conn| crate::db::risk::latest_run(conn, model.id))?;
    Ok(if last.is_none_or(|at| now() - at >= due_after) {
        RiskDue::Scoring
    } else {
        RiskDue::Nothing
    })
}

/// How often work orders are looked after when nothing asks sooner.
const WORK_ORDER_CHECK: Duration = Duration::from_secs(60);
/// How often every open order's priority is computed again when nothing asks sooner.
/// Only the age part moves by itself, by days: ten minutes late is ten minutes of
/// ageing, and on a large city a whole pass reads every open order and its reports'
/// answers.
const WHOLE_REPRIORITISATION: Duration = Duration::from_secs(600);
/// The least time between two passes: under a stream of reports the task runs this
/// often, not once per report.
const WORK_ORDER_GAP: Duration = Duration::from_secs(2);

/// What woke the work-order upkeep.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Wake {
    /// Reports were stored: their issues need orders or new priorities.
    Reported,
    /// The minute passed: issues stored by other means (imports, other servers) get
    /// their orders, and the week its inspections.
    Minute,
    /// A weight, a score or an order changed: every priority may have.
    Changed,
}

/// Gives new issues their work orders, plans the week's inspections once scores exist,
/// and keeps priorities current. Runs every minute, and at once when a weight, a score
/// or an order changes ([`AppState::work_orders_due`]); every open order is prioritised
/// again on a change and every `WHOLE_REPRIORITISATION` (they age), otherwise only the
/// orders just made. Reports between those passes wake a smaller one
/// ([`AppState::reported_issues`]) that looks only at the issues they reported: on a
/// large city a whole pass reads every open order, too much to repeat under a stream of
/// reports. Every server runs it; each step is idempotent.
async fn maintain_work_orders(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(WORK_ORDER_CHECK);
    let mut whole_at: Option<tokio::time::Instant> = None;
    loop {
        let wake = tokio::select! {
            _ = tick.tick() => Wake::Minute,
            _ = state.work_orders_due.notified() => Wake::Changed,
            _ = state.reported_issues.added() => Wake::Reported,
        };
        let pass = tokio::time::Instant::now();
        let whole = wake == Wake::Changed
            || whole_at.is_none_or(|at| pass.duration_since(at) >= WHOLE_REPRIORITISATION);
        let worker = state.clone();
        let done = tokio::task::spawn_blocking(move || -> Result<_, crate::db::DbError> {
            // Taken first: a report stored during the pass wakes the next one.
            let reported = worker.reported_issues.take();
            if wake == Wake::Reported && reported.is_empty() {
                return Ok((0, 0, 0, false));
            }
            let db = &worker.db;
            let settings = &worker.settings;
            let catalogue = worker.catalogue.get()?;
            let at = now();
            let (weights, _, _) =
                crate::work_orders::current_weights(db, &settings.priority_weights)?;
            let runs = &worker.latest_run;
            if wake == Wake::Reported {
                let made = crate::work_orders::open_for_reported(db, &catalogue, &reported, at)?;
                let changed = crate::work_orders::reprioritise(
                    db,
                    &catalogue,
                    &weights,
                    runs,
                    at,
                    Some(&reported),
                )?;
                return Ok((made.len(), 0, changed, false));
            }
            let made = crate::work_orders::open_for_issues(db, &catalogue, at)?;
            let budget = crate::work_orders::weekly_budget(
                db,
                &catalogue,
                settings.inspections_per_crew_per_week,
            )?;
            let planned = crate::work_orders::plan_inspections(
                db,
                &catalogue,
                budget,
                at,
                false,
                "system:weekly inspection plan",
            )?
            .len();
            // Inspections are no issue's: a planned week is prioritised whole.
            let whole = whole || planned > 0;
            let made_count = made.len();
            let mut issues = made;
            issues.extend(reported);
            let changed = if whole || !issues.is_empty() {
                let only = (!whole).then_some(&issues[..]);
                crate::work_orders::reprioritise(db, &catalogue, &weights, runs, at, only)?
            } else {
                0
            };
            Ok((made_count, planned, changed, whole))
        })
        .await;
        match done {
            Ok(Ok((made, planned, changed, whole))) => {
                if whole {
                    whole_at = Some(pass);
                }
                if made + planned > 0 {
                    tracing::info!(made, planned, changed, "work orders opened and prioritised")
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "could not look after work orders"),
            Err(_) => return,
        }
        tokio::time::sleep_until(pass + WORK_ORDER_GAP).await;
    }
}

/// Generates the small demo city up to today and loads it, so a first start shows a
/// city with history.
fn load_demo_city(
    db: &Database,
    seed: u64,
    size: models::city::CitySize,
    snap_limit_m: f64,
) -> anyhow::Result<()> {
    use models::city::{CityParams, generate};
    let started = std::time::Instant::now();
    tracing::info!(
        seed,
        "empty database: loading the demo city (UPKEEP_DEMO=false or --no-demo to start empty)"
    );
    let params = CityParams::demo(seed, size, now().date());
    let city = generate(&params, &mut |_| {});
    let catalogue = crate::catalogue::Catalogue {
        services: db.read(crate::db::services::active)?.0,
        changed_at: now(),
    };
    let rows = crate::demo::load(db, city, &catalogue, snap_limit_m, &mut |_, _| {})?;
    tracing::info!(
        rows,
        seconds = started.elapsed().as_secs_f64(),
        "demo city loaded"
    );
    Ok(())
}

/// Sets up logging once per process; later calls (as in tests) are ignored.
pub fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&settings.log_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
