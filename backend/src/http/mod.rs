//! The HTTP edge: routes, the shared state handlers see, and the mapping of internal
//! failures to responses. Below this module nothing knows about HTTP.

pub mod alerts;
pub mod api;
pub mod catalogue;
pub mod crews;
pub mod feeds;
pub mod imports;
pub mod issues;
pub mod limits;
pub mod middleware;
pub mod neighbourhoods;
pub mod open311;
pub mod openapi;
pub mod pages;
pub mod priority;
pub mod query;
pub mod reports;
pub mod risk;
pub mod segments;
pub mod stats;
pub mod tiles;
pub mod wards;
pub mod webhooks;
pub mod work_orders;

use crate::catalogue::Catalogue;
use crate::catalogue_cache::CatalogueCache;
use crate::config::Settings;
use crate::db::{Database, DbError};
use crate::intake::ReportWriter;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use std::sync::Arc;

/// What every handler can reach.
pub struct AppState {
    pub settings: Settings,
    pub db: Database,
    pub catalogue: CatalogueCache,
    /// Stores new reports in group commits.
    pub writer: ReportWriter,
    /// Every accepted report's position, for searches by place.
    pub report_index: crate::report_index::ReportIndex,
    /// Road segments for snapping.
    pub segments: crate::spatial::SegmentCache,
    /// The one training or scoring run at a time, on this server and (by a lease in
    /// the database) in the cluster.
    pub risk: crate::risk::Runner,
    /// Wakes the work-order upkeep (new issues, priorities) now rather than within a
    /// minute.
    pub work_orders_due: tokio::sync::Notify,
    /// Issues that took reports here since the work-order upkeep last looked.
    pub reported_issues: crate::work_orders::ReportedIssues,
    /// The latest scoring run, read and ranked once per run for the priorities and tiles.
    pub latest_run: crate::risk::RunCache,
    /// Map tiles as built, by what they were built from.
    pub tiles: crate::tiles::TileCache,
    /// Write rate limits, turns for expensive reads and cached aggregates.
    pub limits: limits::Limits,
    /// The database as last checked in the background; `/health` reads only this.
    pub health: std::sync::RwLock<DatabaseHealth>,
    /// The secret reporters' addresses are hashed under (the same on every server).
    pub source_salt: String,
}

/// What the background check last found.
#[derive(Debug, Clone, Default)]
pub struct DatabaseHealth {
    /// Why reads fail, if they do.
    pub reads: Option<String>,
    /// Why writes fail, if they do.
    pub writes: Option<String>,
    /// When it was checked.
    pub checked_at: Option<chrono::NaiveDateTime>,
}

pub type State = web::Data<Arc<AppState>>;

/// Every route Upkeep serves, in one place.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use open311::{discovery, requests, services, tokens, updates};
    // Routes are tried in order, each pattern with a parameter by a regular expression:
    // Open311 first, and reports first within it, as they are the busiest.
    cfg.service(
        web::scope("/open311/v2")
            .service(
                expensive("/requests.{format}")
                    .route(web::get().to(requests::list))
                    .route(web::post().to(requests::create)),
            )
            .service(resource("/discovery.{format}").route(web::get().to(discovery::show)))
            .service(resource("/services.{format}").route(web::get().to(services::list)))
            .service(
                resource("/services/{code}.{format}").route(web::get().to(services::definition)),
            )
            .service(resource("/requests/{id}.{format}").route(web::get().to(requests::show)))
            .service(resource("/tokens/{token}.{format}").route(web::get().to(tokens::show)))
            .service(
                resource("/servicerequestupdates.{format}").route(web::get().to(updates::list)),
            ),
    )
    .service(resource("/").route(web::get().to(pages::resident)))
    .service(resource("/report/{id}").route(web::get().to(pages::status)))
    .service(resource("/crew").route(web::get().to(pages::crew)))
    .service(resource("/planner").route(web::get().to(pages::planner)))
    .service(resource("/model").route(web::get().to(pages::model)))
    .service(resource("/neighbourhoods").route(web::get().to(pages::neighbourhoods)))
    .service(resource("/agent").route(web::get().to(pages::agent)))
    .service(resource("/i18n/messages.json").route(web::get().to(pages::messages)))
    .service(resource("/i18n/{lang}.json").route(web::get().to(pages::language)))
    .service(resource("/assets/{name}").route(web::get().to(pages::asset)))
    .service(resource("/favicon.ico").route(web::get().to(pages::favicon)))
    .service(resource("/health").route(web::get().to(api::health)))
    .service(resource("/media/{id}").route(web::get().to(api::media)))
    .service(
        resource("/alerts/confirm")
            .route(web::get().to(alerts::confirm_page))
            .route(web::post().to(alerts::confirm)),
    )
    .service(
        resource("/alerts/unsubscribe")
            .route(web::get().to(alerts::unsubscribe))
            .route(web::post().to(alerts::unsubscribe)),
    )
    .service(
        resource("/feedback/{token}")
            .route(web::get().to(alerts::feedback_page))
            .route(web::post().to(alerts::feedback_answer)),
    )
    .service(resource("/feeds/area.atom").route(web::get().to(feeds::area)))
    .service(resource("/feeds/wards/{id}.atom").route(web::get().to(feeds::ward)))
    .service(resource("/feeds/reports/{id}.atom").route(web::get().to(feeds::report)))
    .service(
        web::scope("/api/v1")
            .service(resource("/openapi.json").route(web::get().to(openapi::document)))
            .service(expensive("/reports").route(web::get().to(reports::list)))
            .service(expensive("/reports/search").route(web::post().to(reports::list)))
            .service(resource("/reports/{id}").route(web::get().to(reports::show)))
            .service(expensive("/issues").route(web::get().to(issues::list)))
            .service(expensive("/issues/search").route(web::post().to(issues::list)))
            .service(resource("/issues/nearby").route(web::get().to(issues::nearby)))
            .service(resource("/issues/{id}").route(web::get().to(issues::show)))
            .service(
                expensive("/segments")
                    .route(web::get().to(segments::list))
                    .route(web::post().to(segments::import)),
            )
            .service(resource("/imports/quality").route(web::get().to(imports::quality_all)))
            .service(resource("/imports/quality/{source}").route(web::get().to(imports::quality)))
            .service(resource("/imports/{kind}").route(web::post().to(imports::import)))
            .service(expensive("/segments/search").route(web::post().to(segments::list)))
            .service(resource("/segments/{id}").route(web::get().to(segments::show)))
            .service(aggregate("/wards").route(web::get().to(wards::list)))
            .service(resource("/wards/{id}").route(web::patch().to(wards::update)))
            .service(expensive("/risk").route(web::get().to(risk::list)))
            .service(resource("/segments/{id}/risk").route(web::get().to(risk::segment)))
            .service(resource("/tiles/{layer}/{z}/{x}/{y}").route(web::get().to(tiles::show)))
            .service(resource("/models").route(web::get().to(risk::models)))
            .service(resource("/model-card").route(web::get().to(risk::model_card)))
            .service(resource("/models/train").route(web::post().to(risk::train)))
            .service(
                resource("/work-orders")
                    .route(web::get().to(work_orders::list))
                    .route(web::post().to(work_orders::create)),
            )
            .service(resource("/work-orders/search").route(web::post().to(work_orders::list)))
            .service(
                resource("/work-orders/{id}")
                    .route(web::get().to(work_orders::show))
                    .route(web::patch().to(work_orders::update)),
            )
            .service(resource("/inspections").route(web::post().to(work_orders::plan)))
            .service(
                resource("/crews")
                    .route(web::get().to(crews::list))
                    .route(web::post().to(crews::create)),
            )
            .service(
                resource("/crews/{id}")
                    .route(web::get().to(crews::show))
                    .route(web::patch().to(crews::update)),
            )
            .service(expensive("/crews/{id}/day").route(web::get().to(crews::day)))
            .service(
                resource("/priority/weights")
                    .route(web::get().to(priority::show))
                    .route(web::put().to(priority::update)),
            )
            .service(aggregate("/stats").route(web::get().to(stats::show)))
            .service(resource("/neighbourhoods").route(web::get().to(neighbourhoods::show)))
            .service(aggregate("/stats/weekly").route(web::get().to(stats::weekly)))
            .service(resource("/stats/feedback").route(web::get().to(stats::feedback)))
            .service(resource("/stats/channels").route(web::get().to(stats::channels)))
            .service(resource("/me").route(web::get().to(api::me)))
            .service(resource("/subscriptions").route(web::post().to(alerts::create)))
            .service(resource("/feedback/{token}").route(web::post().to(alerts::feedback_api)))
            .service(
                resource("/webhooks")
                    .route(web::get().to(webhooks::list))
                    .route(web::post().to(webhooks::create)),
            )
            .service(resource("/webhooks/{id}").route(web::delete().to(webhooks::delete)))
            .service(resource("/media").route(web::post().to(api::upload_media)))
            .service(resource("/models/score").route(web::post().to(risk::rescore)))
            .service(resource("/services").route(web::get().to(catalogue::list)))
            .service(
                resource("/services/{code}")
                    .route(web::put().to(catalogue::put))
                    .route(web::delete().to(catalogue::retire)),
            )
            .service(
                resource("/requests/{id}/status").route(web::post().to(api::change_request_status)),
            ),
    )
    .default_service(web::to(api::not_found));
}

/// A resource that answers a method it does not serve with a JSON 405.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(api::method_not_allowed))
}

/// A resource whose reads are expensive (lists, exports, routes): they take turns.
fn expensive(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    resource(path).wrap(actix_web::middleware::from_fn(limits::expensive))
}

/// An aggregate (statistics, wards): cached for a short while, and computed in turn
/// with the other expensive reads.
fn aggregate(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    resource(path)
        .wrap(actix_web::middleware::from_fn(limits::expensive))
        .wrap(actix_web::middleware::from_fn(limits::cached))
}

/// A failure on our side while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the worker pool is shut down")]
    Blocking,
    /// Files the server keeps for a moment (uploads being imported) could not be written.
    #[error("temporary storage failed: {0}")]
    Io(String),
}

impl ServerError {
    /// The status and a sentence a client may see; details only go to the log.
    pub fn public_view(&self) -> (StatusCode, String) {
        match self {
            ServerError::Db(DbError::Full(_)) => {
                tracing::error!(error = %self, "storage is full");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server cannot store anything right now (storage is full); nothing was saved, please try again later".into(),
                )
            }
            ServerError::Db(DbError::ReadOnly(_)) => {
                tracing::error!(error = %self, "database is read-only");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database takes no changes right now (it is read-only); nothing was saved, please try again later".into(),
                )
            }
            ServerError::Db(DbError::Pool(_) | DbError::Unavailable(_)) => {
                tracing::error!(error = %self, "database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable or busy; nothing was saved, please try again shortly".into(),
                )
            }
            _ => {
                tracing::error!(error = %self, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "something went wrong on our side; it has been logged".into(),
                )
            }
        }
    }
}

/// Runs blocking database work off the async workers.
pub async fn blocking<T, E, F>(work: F) -> Result<T, ServerError>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<ServerError> + Send + 'static,
{
    match web::block(work).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(ServerError::Blocking),
    }
}

/// The catalogue: from the cache when it is fresh, else read off the async workers.
pub async fn current_catalogue(state: &State) -> Result<Arc<Catalogue>, ServerError> {
    if let Some(catalogue) = state.catalogue.cached() {
        return Ok(catalogue);
    }
    let worker = state.clone();
    blocking(move || worker.catalogue.get()).await
}

/// Where clients reach this server: the configured `public_url`; else what a trusted
/// proxy says; else the address the server listens on.
pub fn base_url(req: &HttpRequest, settings: &Settings) -> String {
    if let Some(url) = &settings.public_url {
        return url.clone();
    }
    // Forwarded headers are believed only from a configured proxy, and only as an
    // http(s) origin; `Host` alone is never used, so a client cannot name the server.
    let from_proxy = req
        .peer_addr()
        .is_some_and(|peer| settings.trusted_proxies.contains(&peer.ip()));
    if from_proxy {
        let info = req.connection_info();
        let origin = format!("{}://{}", info.scheme(), info.host());
        if let Ok(url) = url::Url::parse(&origin)
            && matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.path() == "/"
            && url.query().is_none()
            && url.username().is_empty()
        {
            return origin;
        }
    }
    // A server listening on every interface names itself by the loopback one; a city
    // sets `public_url` for anything else.
    settings.public_base()
}

/// The address a request came from: the peer, or, when the peer is a configured
/// proxy, the nearest address in `X-Forwarded-For` that is not one of ours (each proxy
/// appends what it heard from, so earlier entries are the client's own word).
pub fn client_address(req: &HttpRequest, settings: &Settings) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !settings.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let client = forwarded
        .iter()
        .rev()
        .map_while(|entry| entry.parse::<std::net::IpAddr>().ok())
        .find(|address| !settings.trusted_proxies.contains(address));
    Some(client.unwrap_or(peer))
}

/// A pseudonym for where an anonymous report came from: a keyed hash of its address,
/// so one source counts as one reporter without its address being stored.
pub fn source_pseudonym(req: &HttpRequest, state: &AppState) -> Option<String> {
    use sha2::{Digest, Sha256};
    let address = client_address(req, &state.settings)?;
    let digest = Sha256::new()
        .chain_update(state.source_salt.as_bytes())
        .chain_update(address.to_string().as_bytes())
        .finalize();
    Some(
        digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    )
}

/// A reader of a multipart body, once its boundary is one Upkeep can read safely: 4 to
/// 70 characters. RFC 2046 allows 1 to 70, but actix-multipart 0.7.2 panics on some
/// bodies with a boundary of 3 characters or fewer (found by the multipart fuzz test);
/// real clients use long ones. The error says what is wrong.
pub fn multipart(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<actix_multipart::Multipart, String> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|param| param.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"'));
    match boundary {
        Some(b) if (4..=70).contains(&b.len()) => Ok(actix_multipart::Multipart::new(
            req.headers(),
            payload.into_inner(),
        )),
        Some(b) => Err(format!(
            "the multipart boundary '{b}' must be 4 to 70 characters long"
        )),
        None => Err("the Content-Type names no multipart boundary".into()),
    }
}

/// A URL Upkeep stores relative to itself (`/media/7`) made absolute for an answer;
/// another site's URL as it is.
pub fn absolute(base: &str, stored: Option<&str>) -> Option<String> {
    stored.map(|url| {
        if url.starts_with('/') {
            format!("{base}{url}")
        } else {
            url.to_owned()
        }
    })
}
