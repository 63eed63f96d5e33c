//! Residents' alerts and answers: `POST /api/v1/subscriptions`, the confirmation and
//! unsubscribe pages e-mail links open (`/alerts/…`), and "is it fixed?"
//! (`/feedback/{token}` as a page, `/api/v1/feedback/{token}` as JSON).

use super::api::{ApiError, ErrorKind};
use super::pages::{Words, escape, notice};
use super::query::invalid;
use super::{State, blocking, current_catalogue};
use crate::alerts::feedback::{self, Answer, AnswerError, Standing};
use crate::alerts::subscribe::{self, Confirmation, SubscribeError, Wanted};
use crate::db::subscriptions::Area;
use crate::domain::{FieldError, format_datetime, now};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

impl From<SubscribeError> for ApiError {
    fn from(error: SubscribeError) -> Self {
        match error {
            SubscribeError::Invalid(e) => invalid(vec![e]),
            SubscribeError::TooMany(why) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::RateLimited, why)
            }
            SubscribeError::Db(e) => super::ServerError::Db(e).into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionBody {
    email: String,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_m: Option<f64>,
    ward_id: Option<i64>,
    service_request_id: Option<String>,
    #[serde(default)]
    service_codes: Vec<String>,
}

impl SubscriptionBody {
    fn area(&self) -> Result<Area, FieldError> {
        let point = self.lat.is_some() || self.lon.is_some() || self.radius_m.is_some();
        let chosen = usize::from(point)
            + usize::from(self.ward_id.is_some())
            + usize::from(self.service_request_id.is_some());
        if chosen != 1 {
            return Err(FieldError::new(
                "area",
                "give exactly one of: lat, lon and radius_m; ward_id; or service_request_id",
            ));
        }
        if let Some(ward) = self.ward_id {
            return Ok(Area::Ward(ward));
        }
        if let Some(id) = &self.service_request_id {
            return id.trim().parse().map(Area::Report).map_err(|_| {
                FieldError::new("service_request_id", format!("'{id}' is not a report id"))
            });
        }
        let (Some(lat), Some(lon)) = (self.lat, self.lon) else {
            return Err(FieldError::new("lat", "a point needs both lat and lon"));
        };
        let radius_m = self.radius_m.unwrap_or(500.0);
        subscribe::radius(lat, lon, radius_m)
    }
}

/// `POST /api/v1/subscriptions`: anyone asks for alerts about an area. 202: a
/// confirmation link was e-mailed; nothing else is sent until it is used. The answer
/// never repeats the address.
pub async fn create(
    state: State,
    req: HttpRequest,
    body: web::Json<SubscriptionBody>,
) -> Result<HttpResponse, ApiError> {
    // Its messages are written in the language of the page it came from.
    let lang = Words::of(&req).lang;
    let body = body.into_inner();
    let mut errors = Vec::new();
    let email = subscribe::parse_email(&body.email)
        .map_err(|e| errors.push(e))
        .ok();
    let area = body.area().map_err(|e| errors.push(e)).ok();
    if body.service_codes.len() > 50 {
        errors.push(FieldError::new(
            "service_codes",
            "lists more than 50 services",
        ));
    }
    let (Some(email), Some(area)) = (email, area) else {
        return Err(invalid(errors));
    };
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let catalogue = current_catalogue(&state).await?;
    let wanted = Wanted {
        email,
        lang,
        area,
        service_codes: body.service_codes,
    };
    let worker = state.clone();
    web::block(move || {
        subscribe::subscribe(
            &worker.db,
            &worker.settings,
            &worker.source_salt,
            &catalogue,
            &wanted,
            now(),
        )
    })
    .await
    .map_err(|_| ApiError::from(super::ServerError::Blocking))??;
    Ok(HttpResponse::Accepted().json(json!({
        "status": "confirmation_sent",
        "message": "We have e-mailed a link to confirm these alerts. Nothing more is sent until it is used; it expires in 48 hours.",
    })))
}

fn token_of(query: &HashMap<String, String>) -> Option<&str> {
    query
        .get("token")
        .map(String::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

/// `GET /alerts/confirm?token=`: a button, not the confirmation itself, so a mail
/// scanner that follows links confirms nothing.
pub async fn confirm_page(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let w = Words::of(&req);
    let title = w.get("confirm.title", &[]);
    let Some(token) = token_of(&query) else {
        return incomplete(w, &title);
    };
    notice(
        StatusCode::OK,
        w,
        &title,
        &format!(
            "<p>{}</p>\n<form method=\"post\" action=\"/alerts/confirm\">\n\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\n\
             <button type=\"submit\">{}</button>\n</form>",
            w.get("confirm.press", &[]),
            escape(token),
            w.get("confirm.button", &[]),
        ),
    )
}

fn incomplete(w: Words, title: &str) -> HttpResponse {
    notice(
        StatusCode::BAD_REQUEST,
        w,
        title,
        &format!("<p>{}</p>", w.get("notice.incomplete", &[])),
    )
}

/// `POST /alerts/confirm`: confirms.
pub async fn confirm(
    state: State,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let w = Words::of(&req);
    let Some(token) = token_of(&form).map(str::to_owned) else {
        return Ok(incomplete(w, &w.get("confirm.title", &[])));
    };
    let worker = state.clone();
    let outcome = blocking(move || subscribe::confirm(&worker.db, &token, now())).await?;
    Ok(match outcome {
        Confirmation::Confirmed => notice(
            StatusCode::OK,
            w,
            &w.get("confirm.done_title", &[]),
            &format!("<p role=\"status\">{}</p>", w.get("confirm.done", &[])),
        ),
        Confirmation::Unusable => notice(
            StatusCode::GONE,
            w,
            &w.get("confirm.gone_title", &[]),
            &format!("<p>{}</p>", w.get("confirm.gone", &[])),
        ),
    })
}

/// `GET` or `POST /alerts/unsubscribe?subscription=&token=`: stops the alerts at
/// once (one click, RFC 8058 for mail clients' POST).
pub async fn unsubscribe(
    state: State,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let w = Words::of(&req);
    let title = w.get("unsubscribe.title", &[]);
    let id = query
        .get("subscription")
        .and_then(|s| s.parse::<i64>().ok());
    let (Some(id), Some(token)) = (id, token_of(&query).map(str::to_owned)) else {
        return Ok(incomplete(w, &title));
    };
    let worker = state.clone();
    let good = blocking(move || {
        subscribe::unsubscribe(&worker.db, &worker.source_salt, id, &token, now())
    })
    .await?;
    Ok(if good {
        notice(
            StatusCode::OK,
            w,
            &w.get("unsubscribe.done_title", &[]),
            &format!("<p role=\"status\">{}</p>", w.get("unsubscribe.done", &[])),
        )
    } else {
        notice(
            StatusCode::NOT_FOUND,
            w,
            &title,
            &format!("<p>{}</p>", w.get("notice.not_ours", &[])),
        )
    })
}

/// `GET /feedback/{token}`: "Is it fixed?" and "How satisfied are you?".
pub async fn feedback_page(
    state: State,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let w = Words::of(&req);
    let token = token.into_inner();
    let worker = state.clone();
    let path_token = token.clone();
    let standing = blocking(move || feedback::look(&worker.db, &path_token, now())).await?;
    Ok(match standing {
        Standing::Open(row) => notice(
            StatusCode::OK,
            w,
            &w.get("feedback.title", &[]),
            &feedback_form(w, &token, row.request_id, None),
        ),
        other => standing_page(w, &other),
    })
}

/// A link to report `id`, in words.
fn report_link(w: Words, id: i64) -> String {
    format!(
        "<a href=\"/report/{id}\">{}</a>",
        w.get("feedback.report", &[("id", &id.to_string())])
    )
}

fn feedback_form(w: Words, token: &str, request_id: i64, error: Option<&FieldError>) -> String {
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"form-error\">{}</p>\n",
                escape(&e.to_string())
            )
        })
        .unwrap_or_default();
    let scores = (1..=5)
        .map(|n| {
            format!(
                "<label><input type=\"radio\" name=\"satisfaction\" value=\"{n}\"> {n} ({})</label>",
                w.get(&format!("feedback.score{n}"), &[])
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "{error}<p>{intro}</p>\n\
         <form method=\"post\" action=\"/feedback/{token}\">\n\
         <fieldset><legend>{legend_fixed}</legend>\n\
         <label><input type=\"radio\" name=\"fixed\" value=\"yes\" required> {yes}</label>\n\
         <label><input type=\"radio\" name=\"fixed\" value=\"no\"> {no}</label>\n\
         </fieldset>\n\
         <label for=\"reason\">{reason}</label>\n\
         <textarea id=\"reason\" name=\"reason\" rows=\"3\" maxlength=\"2000\"></textarea>\n\
         <fieldset><legend>{legend_satisfied}</legend>\n{scores}\n</fieldset>\n\
         <button type=\"submit\">{send}</button>\n</form>",
        intro = w.get("feedback.intro", &[("report", &report_link(w, request_id))]),
        token = escape(token),
        legend_fixed = w.get("feedback.legend_fixed", &[]),
        yes = w.get("feedback.yes", &[]),
        no = w.get("feedback.no", &[]),
        reason = w.get("feedback.reason", &[]),
        legend_satisfied = w.get("feedback.legend_satisfied", &[]),
        send = w.get("feedback.send", &[]),
    )
}

/// The page for a link that cannot be answered.
fn standing_page(w: Words, standing: &Standing) -> HttpResponse {
    match standing {
        Standing::Used(at) => notice(
            StatusCode::GONE,
            w,
            &w.get("feedback.used_title", &[]),
            &format!(
                "<p>{}</p>",
                w.get("feedback.used", &[("when", &escape(&format_datetime(*at)))])
            ),
        ),
        Standing::Expired(at) => notice(
            StatusCode::GONE,
            w,
            &w.get("feedback.expired_title", &[]),
            &format!(
                "<p>{}</p>\n<p><a href=\"/\">{}</a></p>",
                w.get(
                    "feedback.expired",
                    &[("when", &escape(&format_datetime(*at)))]
                ),
                w.get("notice.nav_report", &[]),
            ),
        ),
        Standing::Unknown | Standing::Open(_) => notice(
            StatusCode::NOT_FOUND,
            w,
            &w.get("feedback.not_found_title", &[]),
            &format!("<p>{}</p>", w.get("notice.not_ours", &[])),
        ),
    }
}

async fn record(
    state: &State,
    token: String,
    answer: Answer,
) -> Result<Result<feedback::Recorded, AnswerError>, ApiError> {
    let catalogue = current_catalogue(state).await?;
    let worker = state.clone();
    web::block(move || feedback::answer(&worker.db, &catalogue, &token, &answer, now()))
        .await
        .map_err(|_| ApiError::from(super::ServerError::Blocking))
}

/// `POST /feedback/{token}` (the form).
pub async fn feedback_answer(
    state: State,
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let w = Words::of(&req);
    let token = token.into_inner();
    let parsed = Answer::parse(
        form.get("fixed").map(String::as_str),
        form.get("reason").map(String::as_str),
        form.get("satisfaction").map(String::as_str),
    );
    let answer = match parsed {
        Ok(answer) => answer,
        Err(e) => return form_again(&state, w, &token, &e).await,
    };
    match record(&state, token.clone(), answer).await? {
        Ok(done) => {
            let report = report_link(w, done.request_id);
            let key = if done.reopened {
                "feedback.reopened"
            } else {
                "feedback.kept"
            };
            Ok(notice(
                StatusCode::OK,
                w,
                &w.get("feedback.thanks_title", &[]),
                &format!(
                    "<p role=\"status\">{}</p>",
                    w.get(key, &[("report", &report)])
                ),
            ))
        }
        Err(AnswerError::Invalid(e)) => form_again(&state, w, &token, &e).await,
        Err(AnswerError::Used(at)) => Ok(standing_page(w, &Standing::Used(at))),
        Err(AnswerError::Expired(at)) => Ok(standing_page(w, &Standing::Expired(at))),
        Err(AnswerError::Unknown) => Ok(standing_page(w, &Standing::Unknown)),
        Err(AnswerError::Reopen(why)) => Ok(notice(
            StatusCode::CONFLICT,
            w,
            &w.get("feedback.not_reopened_title", &[]),
            &format!("<p>{}</p>", escape(&why)),
        )),
        Err(AnswerError::Db(e)) => Err(super::ServerError::Db(e).into()),
    }
}

async fn form_again(
    state: &State,
    w: Words,
    token: &str,
    error: &FieldError,
) -> Result<HttpResponse, ApiError> {
    let worker = state.clone();
    let looked = token.to_owned();
    let standing = blocking(move || feedback::look(&worker.db, &looked, now())).await?;
    Ok(match standing {
        Standing::Open(row) => notice(
            StatusCode::BAD_REQUEST,
            w,
            &w.get("feedback.title", &[]),
            &feedback_form(w, token, row.request_id, Some(error)),
        ),
        other => standing_page(w, &other),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    fixed: serde_json::Value,
    reason: Option<String>,
    satisfaction: Option<serde_json::Value>,
}

/// `POST /api/v1/feedback/{token}` (JSON): `{"fixed": false, "reason": "…",
/// "satisfaction": 2}`.
pub async fn feedback_api(
    state: State,
    token: web::Path<String>,
    body: web::Json<AnswerBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let word = |v: &serde_json::Value| match v {
        serde_json::Value::Bool(b) => Some(if *b {
            "yes".to_owned()
        } else {
            "no".to_owned()
        }),
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let answer = Answer::parse(
        word(&body.fixed).as_deref(),
        body.reason.as_deref(),
        body.satisfaction.as_ref().and_then(word).as_deref(),
    )
    .map_err(|e| invalid(vec![e]))?;
    match record(&state, token.into_inner(), answer).await? {
        Ok(done) => Ok(HttpResponse::Ok().json(json!({
            "service_request_id": done.request_id.to_string(),
            "reopened": done.reopened,
        }))),
        Err(AnswerError::Invalid(e)) => Err(invalid(vec![e])),
        Err(e @ (AnswerError::Used(_) | AnswerError::Expired(_))) => Err(ApiError::new(
            StatusCode::GONE,
            ErrorKind::Conflict,
            e.to_string(),
        )),
        Err(AnswerError::Unknown) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            "this feedback link is not one Upkeep sent",
        )),
        Err(AnswerError::Reopen(why)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorKind::Conflict,
            why,
        )),
        Err(AnswerError::Db(e)) => Err(super::ServerError::Db(e).into()),
    }
}
