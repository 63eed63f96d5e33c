//! The web pages (`/`, `/report/{id}`, `/crew`, `/planner`, `/model`, `/neighbourhoods`,
//! `/agent`)
//! and their assets, embedded
//! in the binary at build time from `web/`: Upkeep's own HTML, CSS and JavaScript, and
//! the third-party libraries in `web/vendor/` (Leaflet, Chart.js; see web/package.json).
//! Nothing is fetched from anywhere else: the road network is the base map.

use super::api::not_found as route_not_found;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;

macro_rules! web_file {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/", $path)).as_slice()
    };
}

/// (name under /assets/, bytes, content type, may be cached for a week).
const ASSETS: [(&str, &[u8], &str, bool); 13] = [
    (
        "upkeep.css",
        web_file!("assets/upkeep.css"),
        "text/css",
        false,
    ),
    (
        "upkeep.js",
        web_file!("assets/upkeep.js"),
        "text/javascript",
        false,
    ),
    (
        "resident.js",
        web_file!("assets/resident.js"),
        "text/javascript",
        false,
    ),
    (
        "status.js",
        web_file!("assets/status.js"),
        "text/javascript",
        false,
    ),
    (
        "crew.js",
        web_file!("assets/crew.js"),
        "text/javascript",
        false,
    ),
    (
        "planner.js",
        web_file!("assets/planner.js"),
        "text/javascript",
        false,
    ),
    (
        "model.js",
        web_file!("assets/model.js"),
        "text/javascript",
        false,
    ),
    (
        "neighbourhoods.js",
        web_file!("assets/neighbourhoods.js"),
        "text/javascript",
        false,
    ),
    (
        "leaflet.js",
        web_file!("vendor/leaflet.js"),
        "text/javascript",
        true,
    ),
    (
        "protomaps-leaflet.js",
        web_file!("vendor/protomaps-leaflet.js"),
        "text/javascript",
        true,
    ),
    (
        "leaflet.css",
        web_file!("vendor/leaflet.css"),
        "text/css",
        true,
    ),
    (
        "chart.umd.min.js",
        web_file!("vendor/chart.umd.min.js"),
        "text/javascript",
        true,
    ),
    (
        "favicon.svg",
        web_file!("assets/favicon.svg"),
        "image/svg+xml",
        true,
    ),
];

const RESIDENT: &[u8] = web_file!("pages/resident.html");
const STATUS: &[u8] = web_file!("pages/status.html");
const CREW: &[u8] = web_file!("pages/crew.html");
const PLANNER: &[u8] = web_file!("pages/planner.html");
const MODEL: &[u8] = web_file!("pages/model.html");
const NEIGHBOURHOODS: &[u8] = web_file!("pages/neighbourhoods.html");
const AGENT: &[u8] = web_file!("pages/agent.html");

/// Pages may load only what this server serves; Leaflet positions its panes with inline
/// styles, and photos may come from wherever residents' links point.
const POLICY: &str = "default-src 'self'; img-src 'self' data: blob: https:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn etags() -> &'static HashMap<&'static str, String> {
    static TAGS: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(name, bytes, _, _)| {
                let digest = Sha256::digest(bytes);
                let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                (*name, format!("\"{hex}\""))
            })
            .collect()
    })
}

fn page(html: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", POLICY))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html)
}

/// `GET /`: the residents' map and report form.
pub async fn resident() -> HttpResponse {
    page(RESIDENT)
}

/// `GET /report/{id}`: one report's status and history.
pub async fn status() -> HttpResponse {
    page(STATUS)
}

/// `GET /crew`: a crew's day.
pub async fn crew() -> HttpResponse {
    page(CREW)
}

/// `GET /planner`: the risk map, wards, charts and the model.
pub async fn planner() -> HttpResponse {
    page(PLANNER)
}

/// `GET /model`: the public model card.
pub async fn model() -> HttpResponse {
    page(MODEL)
}

/// `GET /neighbourhoods`: how each ward is served, for anyone.
pub async fn neighbourhoods() -> HttpResponse {
    page(NEIGHBOURHOODS)
}

/// `GET /agent`: staff take a report for a resident who phones or comes to a counter.
pub async fn agent() -> HttpResponse {
    page(AGENT)
}

/// `GET /favicon.ico`, which browsers ask for on any page, even a JSON one.
pub async fn favicon(req: HttpRequest) -> HttpResponse {
    asset(req, web::Path::from("favicon.svg".to_owned())).await
}

/// `GET /assets/{name}`: Upkeep's scripts and styles (revalidated by ETag) and the
/// vendored libraries (cached for a week).
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some((name, bytes, content_type, immutable)) =
        ASSETS.iter().find(|(n, ..)| *n == name.as_str())
    else {
        return route_not_found(req).await;
    };
    let tag = &etags()[name];
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CONTENT_TYPE, *content_type))
        .insert_header((header::ETAG, tag.as_str()))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            header::CACHE_CONTROL,
            if *immutable {
                "public, max-age=604800"
            } else {
                "no-cache"
            },
        ));
    if fresh {
        response.finish()
    } else {
        response.body(*bytes)
    }
}

/// Text made safe inside HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The server's own page words in the language of a request (the switch's cookie,
/// then `Accept-Language`), for the pages e-mail links open.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    pub lang: &'static str,
}

impl Words {
    pub fn of(req: &HttpRequest) -> Words {
        // One cookie of plain words: read by hand rather than with actix-web's cookie
        // feature.
        let chosen = req
            .headers()
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix("upkeep_lang="));
        let accept = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Words {
            lang: crate::i18n::negotiate(chosen, accept),
        }
    }

    /// Message `key` escaped for HTML, each `{name}` replaced by its value as given
    /// (escape anyone's words before passing them).
    pub fn get(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut text = escape(&crate::i18n::text(self.lang, key));
        for (name, value) in values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

/// A page written by the server around `body` (HTML already escaped where it holds
/// anyone's words): the pages e-mail links open, which must work without scripts. They
/// carry secrets in their address, so they are never cached nor sent as a referrer.
pub fn notice(
    status: actix_web::http::StatusCode,
    words: Words,
    title: &str,
    body: &str,
) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} — Upkeep</title>\n<link rel=\"icon\" href=\"/assets/favicon.svg\">\n\
         <link rel=\"stylesheet\" href=\"/assets/upkeep.css\">\n</head>\n<body>\n\
         <header class=\"top\">\n  <h1>{title}</h1>\n  <nav aria-label=\"Pages\"><a href=\"/\">{report}</a> \
         <a href=\"/neighbourhoods\">{hoods}</a></nav>\n</header>\n\
         <main class=\"page notice\">\n{body}\n</main>\n</body>\n</html>\n",
        lang = words.lang,
        report = words.get("notice.nav_report", &[]),
        hoods = words.get("notice.nav_hoods", &[]),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", POLICY))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_LANGUAGE, words.lang))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(html)
}

/// `GET /i18n/messages.json`: the pages' words in the language chosen with the switch
/// (the `upkeep_lang` cookie), else the best of `Accept-Language`, else English.
pub async fn messages(req: HttpRequest) -> HttpResponse {
    let lang = Words::of(&req).lang;
    let body = format!(
        "{{\"lang\":\"{lang}\",\"messages\":{}}}",
        crate::i18n::messages(lang)
    );
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CONTENT_LANGUAGE, lang))
        .insert_header((header::VARY, "Accept-Language, Cookie"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// `GET /i18n/{lang}.json`: one language's messages as they are (en, fr).
pub async fn language(req: HttpRequest, lang: web::Path<String>) -> HttpResponse {
    match crate::i18n::LANGUAGES
        .into_iter()
        .find(|l| *l == lang.as_str())
    {
        Some(lang) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(crate::i18n::messages(lang)),
        None => route_not_found(req).await,
    }
}
