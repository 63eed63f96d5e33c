//! `POST /api/v1/imports/{kind}`: planners and admins import a city's history over HTTP,
//! as `upkeep import KIND` does: a multipart form with the mapping (`mapping`, TOML) and
//! one or more files (`file`) in the mapping's format.

use super::api::{ApiError, ErrorKind, require_role};
use super::open311::Params;
use super::query::invalid;
use super::{State, blocking, current_catalogue};
use crate::domain::{FieldError, Role};
use crate::import::mapping::{Kind, Mapping};
use crate::import::{self, ImportError, NamedFile};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;
use std::io::Write;

/// Largest upload, all files together, bytes.
const MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;
/// Largest mapping, bytes.
const MAX_MAPPING_BYTES: usize = 64 * 1024;

/// Uploaded files, kept on disk for the import and removed afterwards.
struct Spooled(Vec<NamedFile>);

impl Drop for Spooled {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = std::fs::remove_file(&file.path);
        }
    }
}

fn bad_body(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidBody, message)
}

pub async fn import(
    state: State,
    req: HttpRequest,
    kind: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "import a city's history",
    )
    .await?;
    let kind = Kind::parse(&kind)
        .map_err(|why| ApiError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, why))?;
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    if let Some((name, _)) = params.pairs().iter().find(|(name, _)| name != "dry_run") {
        return Err(invalid(vec![FieldError::new(
            name,
            "is not an import option; known: dry_run",
        )]));
    }
    let dry_run = params
        .boolean("dry_run", false)
        .map_err(|e| invalid(vec![e]))?;
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("multipart/form-data") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::InvalidBody,
            "send multipart/form-data with a `mapping` part (TOML) and one or more `file` parts",
        ));
    }
    let mut form = super::multipart(&req, payload)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidBody, e))?;
    let mut mapping_text: Option<String> = None;
    let mut spooled = Spooled(Vec::new());
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| bad_body(format!("the multipart body is malformed: {e}")))?;
        let part = field.name().map(str::to_owned);
        match part.as_deref() {
            Some("mapping") => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk
                        .map_err(|e| bad_body(format!("the mapping could not be read: {e}")))?;
                    if bytes.len() + chunk.len() > MAX_MAPPING_BYTES {
                        return Err(bad_body(format!(
                            "the mapping is larger than {MAX_MAPPING_BYTES} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(bytes)
                    .map_err(|_| bad_body("the mapping is not UTF-8 text"))?;
                if let Some(c) = crate::domain::forbidden_control(&text) {
                    return Err(bad_body(format!(
                        "the mapping holds the control character U+{:04X}",
                        u32::from(c)
                    )));
                }
                mapping_text = Some(text);
            }
            Some("file") => {
                let name = field
                    .content_disposition()
                    .and_then(|d| d.get_filename().map(str::to_owned))
                    // A name is only echoed back in the summary; one with control
                    // characters is not worth echoing.
                    .filter(|n| crate::domain::forbidden_control(n).is_none())
                    .unwrap_or_else(|| format!("file {}", spooled.0.len() + 1));
                let path = std::env::temp_dir()
                    .join(format!("upkeep-import-{}", uuid::Uuid::new_v4().simple()));
                let mut out = std::fs::File::create(&path)
                    .map_err(|e| super::ServerError::Io(e.to_string()))?;
                spooled.0.push(NamedFile {
                    name,
                    path: path.clone(),
                });
                while let Some(chunk) = field.next().await {
                    let chunk =
                        chunk.map_err(|e| bad_body(format!("a file could not be read: {e}")))?;
                    total += chunk.len();
                    if total > MAX_UPLOAD_BYTES {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            ErrorKind::BodyTooLarge,
                            format!(
                                "the files are larger than {MAX_UPLOAD_BYTES} bytes together; import them in parts"
                            ),
                        ));
                    }
                    out.write_all(&chunk)
                        .map_err(|e| super::ServerError::Io(e.to_string()))?;
                }
            }
            other => {
                return Err(bad_body(format!(
                    "the part '{}' is not known: send `mapping` and `file`",
                    other.unwrap_or("")
                )));
            }
        }
    }
    let mapping_text =
        mapping_text.ok_or_else(|| bad_body("the `mapping` part (TOML) is missing"))?;
    if spooled.0.is_empty() {
        return Err(bad_body("no `file` part: send at least one file"));
    }
    let mapping =
        Mapping::parse(&mapping_text).map_err(|e| bad_body(format!("the mapping {e}")))?;
    if mapping.kind != kind {
        return Err(invalid(vec![FieldError::new(
            "kind",
            format!(
                "the mapping is for {}, but this is the import of {}",
                mapping.kind.as_str(),
                kind.as_str()
            ),
        )]));
    }
    let catalogue = current_catalogue(&state).await?;
    let mapping = mapping.check(&catalogue).map_err(invalid)?;
    let worker = state.clone();
    let outcome = blocking(move || {
        let index = worker.segments.current();
        let ctx = import::Context {
            db: &worker.db,
            catalogue: &catalogue,
            segments: &index,
            snap_limit_m: worker.settings.snap_limit_m,
            dry_run,
        };
        let result = import::import(&ctx, &mapping, &spooled.0, &mut |_| {});
        drop(spooled);
        Ok::<_, crate::db::DbError>(result)
    })
    .await?;
    let summary = match outcome {
        Ok(summary) => summary,
        Err(ImportError::Stopped { error, .. } | ImportError::Prepare(error)) => {
            return Err(super::ServerError::Db(error).into());
        }
        Err(other) => return Err(bad_body(other.to_string())),
    };
    let nothing = summary.good() == 0 && summary.read > 0;
    let status = if nothing {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut body =
        serde_json::to_value(&summary).map_err(|e| super::ServerError::Io(e.to_string()))?;
    body["dry_run"] = json!(dry_run);
    if nothing {
        body["error"] = json!("nothing_imported");
        body["message"] =
            json!("no row could be imported; see rejects for each one's line and reason");
    }
    Ok(HttpResponse::build(status).json(body))
}

/// `GET /api/v1/imports/quality`: the data-quality report of every source imported.
pub async fn quality_all(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "see data quality",
    )
    .await?;
    let worker = state.clone();
    let reports = blocking(move || {
        let mut reports = Vec::new();
        for (source, _) in import::quality::sources(&worker.db)? {
            match import::quality::report(&worker.db, &source) {
                Ok(report) => reports.push(report),
                Err(import::quality::QualityError::Db(e)) => return Err(e),
                // A source listed a moment ago always has runs.
                Err(import::quality::QualityError::UnknownSource(_)) => {}
            }
        }
        Ok::<_, crate::db::DbError>(reports)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": reports })))
}

/// `GET /api/v1/imports/quality/{source}`: one source's data-quality report.
pub async fn quality(
    state: State,
    req: HttpRequest,
    source: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "see data quality",
    )
    .await?;
    // Control characters in the path are refused before any handler (`clean_text`).
    let source = source.into_inner();
    let worker = state.clone();
    let report =
        blocking(move || Ok::<_, crate::db::DbError>(import::quality::report(&worker.db, &source)))
            .await?;
    match report {
        Ok(report) => Ok(HttpResponse::Ok().json(report)),
        Err(import::quality::QualityError::UnknownSource(source)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            format!("nothing has been imported from a source named '{source}'"),
        )),
        Err(import::quality::QualityError::Db(e)) => Err(super::ServerError::Db(e).into()),
    }
}
