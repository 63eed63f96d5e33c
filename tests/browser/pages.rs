//! Residents, crews and planners, each through their own page.

use crate::browser::{self, Browser};
use crate::helpers::{TestApp, pothole_at, spawn_app_with};
use backend::domain::Role;
use models::city::CitySize;
use reqwest::Method;
use serde_json::{Value, json};

async fn tiny_city() -> TestApp {
    spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = CitySize::Tiny;
    })
    .await
}

/// Clicks near the middle of the map (where the page framed the city, between the open
/// issues' dots) and fills in a pothole.
async fn report_pothole_at_the_centre(browser: &Browser) {
    for (dx, dy) in [(7.0, 11.0), (-23.0, 17.0), (31.0, -29.0), (-41.0, -37.0)] {
        browser.click_map(dx, dy).await;
        let shown = browser
            .eval("return !document.querySelector('#report').hidden")
            .await;
        if shown == serde_json::Value::Bool(true) {
            break;
        }
    }
    browser.click("#service option[value='pothole']").await;
    browser.click("#attr-size option[value='large']").await;
    browser
        .click("#attr-in_traffic_lane option[value='yes']")
        .await;
}

async fn issue_of(app: &TestApp, report: &str) -> i64 {
    app.get_json(&format!("/api/v1/reports/{report}"), 200)
        .await["issue_id"]
        .as_i64()
        .expect("the report joined an issue")
}

#[tokio::test]
async fn a_resident_reports_a_pothole_sees_it_on_the_map_and_a_neighbour_is_offered_it() {
    let app = tiny_city().await;
    let Some(browser) = browser::open(1280, 900).await else {
        return;
    };
    browser.goto(&app.url("/")).await;
    browser.wait_rendered().await;
    browser.assert_accessible("the residents' page").await;
    browser.assert_no_errors("the residents' page").await;

    report_pothole_at_the_centre(&browser).await;
    // Markup in a description is kept as text, never run.
    browser
        .type_into("#description", "<img src=x onerror=alert(1)> Deep hole")
        .await;
    browser.click("#send").await;
    let reference = browser.text("#reference").await;
    let issue = issue_of(&app, &reference).await;
    browser.wait_for_css(&format!("path.issue-{issue}")).await;
    browser.screenshot("resident-reported").await;
    let stored = app
        .get_json(&format!("/api/v1/reports/{reference}"), 200)
        .await;
    assert_eq!(
        stored["description"],
        "<img src=x onerror=alert(1)> Deep hole"
    );

    // A neighbour, with a keyboard, puts the map's centre on the spot and is offered
    // the open issue there; they join it.
    browser.goto(&app.url("/")).await;
    browser.wait_rendered().await;
    browser.click("#here").await;
    browser.click("#service option[value='pothole']").await;
    browser.click("#attr-size option[value='large']").await;
    browser
        .click("#attr-in_traffic_lane option[value='yes']")
        .await;
    browser
        .click(&format!("#nearby-list button.join[data-issue='{issue}']"))
        .await;
    let second = browser.text("#reference").await;
    assert_ne!(second, reference);
    assert_eq!(
        issue_of(&app, &second).await,
        issue,
        "joined, not a new issue"
    );
    browser.screenshot("resident-joined").await;
    browser
        .assert_accessible("the residents' page after reporting")
        .await;
    browser
        .assert_no_errors("the residents' page after reporting")
        .await;

    // The status page follows the report.
    browser.click("#follow").await;
    browser.wait_rendered().await;
    assert_eq!(
        browser.text("#status").await.split(' ').next(),
        Some("open")
    );
    browser.assert_accessible("the status page").await;
    browser.assert_no_errors("the status page").await;

    // The first report's markup is shown as the words it is.
    browser
        .goto(&app.url(&format!("/report/{reference}")))
        .await;
    browser.wait_rendered().await;
    let shown = browser.text("#report").await;
    assert!(
        shown.contains("<img src=x onerror=alert(1)> Deep hole"),
        "{shown}"
    );
    assert_eq!(
        browser
            .eval("return document.querySelectorAll('#report img').length")
            .await,
        serde_json::json!(0)
    );
    browser
        .assert_accessible("the status page with markup in it")
        .await;
    browser
        .assert_no_errors("the status page with markup in it")
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_crew_completes_its_order_on_a_phone_and_the_resident_sees_it_closed() {
    let app = tiny_city().await;
    let planner = app.issue_key(Role::Planner);
    let report = app.submit(&pothole_at(43.0481, -76.1474)).await;
    let issue = issue_of(&app, &report).await;
    let orders = app
        .wait_for(&format!("/api/v1/work-orders?issue_id={issue}"), |b| {
            b["total"] == 1
        })
        .await;
    let order = orders["items"][0]["id"].as_i64().unwrap();
    let crews = app.get_json("/api/v1/crews", 200).await;
    let crew = crews
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["service_codes"]
                .as_array()
                .unwrap()
                .contains(&json!("pothole"))
        })
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, body) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/work-orders/{order}"),
            Some(&planner),
            Some(json!({"crew_id": crew})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let key = app.crew_key(crew);

    // A phone-sized screen.
    let Some(browser) = browser::open(390, 844).await else {
        return;
    };
    browser.goto(&app.url("/crew")).await;
    browser.wait_rendered().await;
    browser.type_into("#key", &key).await;
    browser.click("#sign-in button[type='submit']").await;
    // The streets come from the tiles and follow the view to the day's stops.
    let mut streets = 0;
    for _ in 0..50 {
        streets = browser.eval(STREET_PIXELS).await.as_u64().unwrap();
        if streets > 100 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(streets > 100, "street pixels on the crew's map: {streets}");
    browser
        .click(&format!("#orders li[data-order='{order}'] button"))
        .await;
    browser.click("#start").await;
    browser.wait_for_text("#order-status", "in progress").await;
    // A photo from the phone becomes one of the order's photo links.
    let photo = std::env::temp_dir().join(format!("upkeep-{}.png", uuid::Uuid::new_v4()));
    std::fs::write(
        &photo,
        // One transparent pixel, a whole PNG (photos are decoded).
        [
            0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48,
            0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
            0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78,
            0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00,
            0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
        ],
    )
    .unwrap();
    browser
        .wait_for_css("#photo-file")
        .await
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    browser.wait_for_text("#messages", "Photo added").await;
    browser
        .type_into("#notes", "Patched with cold asphalt")
        .await;
    browser.type_into("#minutes", "35").await;
    browser.screenshot("crew-order").await;
    browser.click("#complete").await;
    browser.wait_for_text("#order-status", "completed").await;
    browser.screenshot("crew-completed").await;
    browser.assert_accessible("the crew page").await;
    browser.assert_no_errors("the crew page").await;
    // Staff read the notes; the public does not.
    let (_, stored) = app
        .send_json(
            Method::GET,
            &format!("/api/v1/work-orders/{order}"),
            Some(&app.issue_key(Role::Planner)),
            None,
        )
        .await;
    assert_eq!(stored["notes"], "Patched with cold asphalt");
    assert_eq!(stored["labour_minutes"], 35);
    let photo_url = stored["photo_urls"][0].as_str().unwrap().to_owned();
    assert!(photo_url.starts_with("/media/"), "{stored}");
    assert_eq!(app.get(&photo_url).await.status(), 200);

    browser.goto(&app.url(&format!("/report/{report}"))).await;
    browser.wait_rendered().await;
    browser.wait_for_text("#status", "closed").await;
    let said = browser.text("#status-notes").await;
    assert!(said.starts_with("Repaired by a city crew"), "{said}");
    browser.screenshot("resident-status-closed").await;
    browser.assert_accessible("the status page").await;
    browser.assert_no_errors("the status page").await;
    browser.close().await;
}

#[tokio::test]
async fn the_planner_map_colours_segments_and_explains_one() {
    let app = tiny_city().await;
    app.train_and_score().await;
    let Some(browser) = browser::open(1280, 900).await else {
        return;
    };
    browser.goto(&app.url("/planner")).await;
    browser.wait_rendered().await;
    let drawn: Value = browser
        .eval("return document.querySelectorAll('path.segment').length")
        .await;
    assert!(drawn.as_u64().unwrap() > 10, "{drawn}");
    let colours: Value = browser
        .eval("return [...new Set([...document.querySelectorAll('path.segment')].map(p => p.getAttribute('stroke')))].length")
        .await;
    assert!(
        colours.as_u64().unwrap() >= 3,
        "coloured by score: {colours}"
    );
    assert_eq!(
        browser
            .eval("return document.querySelectorAll('#legend span[style]').length")
            .await,
        json!(5)
    );
    // Beneath, the risk tiles colour the whole city in the legend's colours.
    let tiles_run: Value = browser
        .eval("return document.body.dataset.riskTiles || null")
        .await;
    assert!(
        tiles_run.as_str().is_some_and(|r| !r.is_empty()),
        "{tiles_run}"
    );
    let shades: Value = browser.eval(PALETTE_PIXELS).await;
    let shades_used = shades
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n.as_u64().unwrap() > 50)
        .count();
    assert!(shades_used >= 3, "tile pixels per legend colour: {shades}");
    let first: Value = browser
        .eval("return document.querySelector('path.segment').getAttribute('class')")
        .await;
    let id: i64 = first
        .as_str()
        .unwrap()
        .split_whitespace()
        .find_map(|c| c.strip_prefix("segment-"))
        .unwrap()
        .parse()
        .unwrap();
    // The riskiest streets in view are listed for the keyboard too.
    browser.click("#riskiest li button").await;
    browser.wait_for_css("#explanation li").await;
    browser
        .eval("document.querySelector('#segment').replaceChildren(); return true")
        .await;
    // Clicking a segment (through the map's own handler) explains it.
    browser
        .eval(&format!(
            "document.querySelector('path.segment-{id}').dispatchEvent(new MouseEvent('click', {{bubbles: true}})); return true"
        ))
        .await;
    browser.wait_for_css("#explanation li").await;
    let probability = browser.text("#segment-probability").await;
    assert!(probability.ends_with('%'), "{probability}");
    let wards: Value = browser
        .eval("return document.querySelectorAll('#wards tbody tr').length")
        .await;
    assert_eq!(wards.as_i64().unwrap(), app.count_rows("wards"));
    assert_eq!(
        browser
            .eval("return document.querySelector('#retrain').disabled")
            .await,
        json!(true),
        "retraining needs a planner key"
    );
    browser
        .type_into("#key", &app.issue_key(Role::Planner))
        .await;
    browser.click("#staff button").await;
    browser.wait_for_text("#messages", "Signed in").await;
    assert_eq!(
        browser
            .eval("return document.querySelector('#retrain').disabled")
            .await,
        json!(false)
    );
    // A re-score redraws the map from the new run's tiles once it is stored.
    let run_before = browser.eval("return document.body.dataset.riskTiles").await;
    browser.click("#rescore").await;
    browser
        .wait_for_text("#messages", "The map shows the new scores")
        .await;
    let mut run_after = run_before.clone();
    for _ in 0..50 {
        run_after = browser.eval("return document.body.dataset.riskTiles").await;
        if run_after != run_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_ne!(run_after, run_before, "the tiles of the new run are drawn");
    // Ranked per km of road instead, for a length budget.
    browser
        .click("#rank-by option[value='probability_per_km']")
        .await;
    browser.wait_for_text("#riskiest", "per km").await;
    browser.screenshot("planner").await;
    browser.assert_accessible("the planners' page").await;
    browser.assert_no_errors("the planners' page").await;

    // The model card is public and follows the page's own link.
    browser.click("nav a[href='/model']").await;
    browser.wait_rendered().await;
    assert!(
        browser.text("#predicts").await.contains("next four weeks"),
        "the card says what is predicted"
    );
    assert!(
        browser
            .text("#evaluation")
            .await
            .contains("without an evaluation"),
        "a model trained without one says so"
    );
    assert!(browser.text("#never-uses").await.contains("names"));
    browser.screenshot("model-card").await;
    browser.assert_accessible("the model card").await;
    browser.assert_no_errors("the model card").await;
    browser.close().await;
}

#[tokio::test]
async fn with_a_model_of_grid_cells_the_planner_map_shades_squares_and_explains_one() {
    let task = backend::risk::Task::new(
        models::risk::Unit::Cell,
        500.0,
        models::risk::Horizon::Weekly,
    )
    .unwrap();
    let app = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = CitySize::Tiny;
        s.risk_task = task;
    })
    .await;
    app.train_and_score_for(task).await;
    let Some(browser) = browser::open(1280, 900).await else {
        return;
    };
    browser.goto(&app.url("/planner")).await;
    browser.wait_rendered().await;
    let drawn: Value = browser
        .eval("return document.querySelectorAll('path.cell').length")
        .await;
    assert_eq!(drawn.as_i64().unwrap(), app.count_rows("risk_cell_scores"));
    let shades: Value = browser
        .eval("return [...new Set([...document.querySelectorAll('path.cell')].map(p => p.getAttribute('fill')))].length")
        .await;
    assert!(shades.as_u64().unwrap() >= 3, "shaded by score: {shades}");
    assert!(
        browser.text("#legend").await.contains("in 28 days"),
        "the legend says how far ahead"
    );
    assert_eq!(
        browser
            .eval("return getComputedStyle(document.querySelector('label[for=rank-by]')).display")
            .await,
        json!("none"),
        "a square has no length to rank by"
    );
    // The riskiest squares are listed for the keyboard, and one is explained.
    browser.click("#riskiest li button").await;
    browser.wait_for_css("#explanation li").await;
    assert!(browser.text("#segment").await.contains("Square"));
    let probability = browser.text("#segment-probability").await;
    assert!(probability.ends_with('%'), "{probability}");
    browser.screenshot("planner-cells").await;
    browser
        .assert_accessible("the planners' page with cells")
        .await;
    browser
        .assert_no_errors("the planners' page with cells")
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_resident_reports_with_the_keyboard_alone_and_the_focus_follows() {
    use crate::browser::{ARROW_DOWN, ENTER, TAB};
    let app = tiny_city().await;
    let Some(browser) = browser::open(1280, 900).await else {
        return;
    };
    browser.goto(&app.url("/")).await;
    browser.wait_rendered().await;
    // Tab from the top of the page to "Report at the centre of the map".
    let mut presses = 0;
    while browser.focused_id().await != "here" {
        browser.press(TAB).await;
        presses += 1;
        assert!(presses < 30, "the keyboard reaches the map's report button");
    }
    browser.press(ENTER).await;
    browser.wait_for_css("#report:not([hidden])").await;
    assert_eq!(
        browser.focused_id().await,
        "service",
        "the focus moves to the form"
    );
    // Type to choose in the list, then answer each required question with the arrows.
    browser.press("Pothole").await;
    browser.wait_for_css("#attributes select").await;
    let mut presses = 0;
    while browser.focused_id().await != "send" {
        browser.press(TAB).await;
        let unanswered: Value = browser
            .eval("const f = document.activeElement; return f.matches('#attributes select[required]') && f.value === ''")
            .await;
        if unanswered == json!(true) {
            browser.press(ARROW_DOWN).await;
        }
        presses += 1;
        assert!(presses < 40, "the keyboard reaches the send button");
    }
    browser.press(ENTER).await;
    browser.wait_for_css("#reference").await;
    assert_eq!(
        browser.focused_id().await,
        "done",
        "the focus moves to the answer, for a screen reader to read it"
    );
    let reference = browser.text("#reference").await;
    assert!(!reference.is_empty());
    let outline: Value = browser
        .eval("return getComputedStyle(document.activeElement).outlineStyle")
        .await;
    assert_ne!(outline, json!("none"), "the focus is visible");
    browser
        .assert_accessible("the residents' page after a keyboard report")
        .await;
    browser
        .assert_no_errors("the residents' page, by keyboard")
        .await;
    browser.close().await;
}

#[tokio::test]
async fn the_neighbourhood_page_shades_each_ward_tables_its_figures_and_fits_a_phone() {
    let app = tiny_city().await;
    let Some(browser) = browser::open(1280, 900).await else {
        return;
    };
    browser.goto(&app.url("/")).await;
    browser.wait_rendered().await;
    // Linked from the residents' page.
    browser.click("nav a[href='/neighbourhoods']").await;
    browser.wait_rendered().await;
    let wards = app.count_rows("wards");
    let count = |css: &str| format!("return document.querySelectorAll('{css}').length");
    assert_eq!(browser.eval(&count("path.ward")).await, json!(wards));
    assert_eq!(
        browser.eval(&count("#figures tbody tr")).await,
        json!(wards)
    );
    assert_eq!(
        browser.eval(&count("#figures th[scope=row]")).await,
        json!(wards + 1)
    );
    assert!(browser.text("#as-of").await.starts_with("Figures as of"));
    let legend = browser.text("#legend").await;
    // Shaded by another figure, the legend says so in words.
    browser
        .click("#shade-by option[value='median_days_to_fix']")
        .await;
    let by_days = browser.wait_for_text("#legend", "days").await;
    assert_ne!(legend, by_days);
    assert_eq!(
        browser
            .eval("return document.querySelector('#csv').getAttribute('href')")
            .await,
        json!("/api/v1/neighbourhoods?format=csv")
    );
    // Alerts for a ward by e-mail, or its feed without one.
    assert_eq!(
        browser.eval(&count("#alert-ward option")).await,
        json!(wards)
    );
    let feed = browser
        .eval("return document.querySelector('#ward-feed').getAttribute('href')")
        .await;
    assert!(
        feed.as_str().unwrap().starts_with("/feeds/wards/"),
        "{feed}"
    );
    browser.type_into("#alert-email", "ana@city.example").await;
    browser.click("#ward-alert-form button").await;
    browser
        .wait_for_text("#alert-messages", "Check your inbox")
        .await;
    assert_eq!(app.count_rows("subscriptions"), 1);
    browser.screenshot("neighbourhoods").await;
    browser.assert_accessible("the neighbourhood page").await;
    browser.assert_no_errors("the neighbourhood page").await;
    browser.close().await;

    // On a 320 px screen nothing runs off the side: the table scrolls in its own box.
    let Some(phone) = browser::open(320, 800).await else {
        return;
    };
    phone.goto(&app.url("/neighbourhoods")).await;
    phone.wait_rendered().await;
    let overflow: Value = phone
        .eval("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page is {overflow} px too wide"
    );
    phone.screenshot("neighbourhoods-phone").await;
    phone
        .assert_accessible("the neighbourhood page on a phone")
        .await;
    phone.close().await;
}

#[tokio::test]
async fn every_page_fits_at_200_percent_zoom_and_on_a_320_px_screen() {
    let app = tiny_city().await;
    app.train_and_score().await;
    let report = app.submit(&pothole_at(43.0481, -76.1474)).await;
    // A 1280 px window at 200 % zoom lays pages out 640 CSS px wide.
    for width in [640, 320] {
        let Some(browser) = browser::open(width, 800).await else {
            return;
        };
        for path in [
            "/".to_owned(),
            format!("/report/{report}"),
            "/crew".to_owned(),
            "/planner".to_owned(),
            "/model".to_owned(),
            "/neighbourhoods".to_owned(),
            "/agent".to_owned(),
        ] {
            browser.goto(&app.url(&path)).await;
            browser.wait_rendered().await;
            let overflow: Value = browser
                .eval("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                .await;
            if overflow.as_i64().unwrap() > 0 {
                let wide = browser
                    .eval("const w = document.documentElement.clientWidth; return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 0.5).slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.getAttribute('class')}: ${Math.round(e.getBoundingClientRect().right)}`)")
                    .await;
                panic!("{path} at {width} px is {overflow} px too wide: {wide}");
            }
            browser
                .assert_accessible(&format!("{path} at {width} px"))
                .await;
        }
        browser.assert_no_errors("the pages at narrow widths").await;
        browser.close().await;
    }
}

#[tokio::test]
async fn an_unknown_key_gets_a_clear_message_on_the_crew_page() {
    let app = tiny_city().await;
    let Some(browser) = browser::open(390, 844).await else {
        return;
    };
    browser.goto(&app.url("/crew")).await;
    browser.wait_rendered().await;
    browser.type_into("#key", "upk_not_a_key").await;
    browser.click("#sign-in button[type='submit']").await;
    browser
        .wait_for_text("#messages", "unknown or revoked")
        .await;
    // The refused request is the only thing the browser complains about.
    let errors = browser.errors().await;
    assert!(
        errors.iter().all(|e| e.contains("401")),
        "only the 401: {errors:#?}"
    );
    browser.close().await;
}

/// The messages `dir` holds, decoded enough to follow their links (quoted-printable soft
/// line breaks and `=3D`).
fn mail_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .replace("=\r\n", "")
                .replace("=3D", "=")
        })
        .collect()
}

#[tokio::test]
async fn a_resident_follows_a_report_by_email_and_answers_is_it_fixed_on_a_page_without_scripts() {
    let outbox = tempfile::tempdir().unwrap();
    let dir = outbox.path().to_owned();
    let app = spawn_app_with(move |s| {
        s.demo = true;
        s.demo_size = CitySize::Tiny;
        s.outbox_dir = dir;
    })
    .await;
    let Some(browser) = browser::open(1280, 900).await else {
        return;
    };
    let report = app.submit(&pothole_at(43.05, -76.15)).await;
    browser.goto(&app.url(&format!("/report/{report}"))).await;
    browser.wait_rendered().await;
    assert_eq!(
        browser
            .eval("return document.querySelector('#follow-feed').getAttribute('href')")
            .await,
        json!(format!("/feeds/reports/{report}.atom"))
    );
    browser.type_into("#follow-email", "not an address").await;
    browser.click("#follow-form button").await;
    // The browser's own check stops a malformed address before it is sent.
    assert_eq!(app.count_rows("subscriptions"), 0);
    browser
        .eval("document.querySelector('#follow-email').value = ''; return null")
        .await;
    browser.type_into("#follow-email", "ana@city.example").await;
    browser.click("#follow-form button").await;
    browser
        .wait_for_text("#follow-messages", "Check your inbox")
        .await;
    assert_eq!(
        browser
            .eval("return document.activeElement.closest('#follow-messages') !== null")
            .await,
        json!(true),
        "the answer has the focus"
    );
    assert_eq!(app.count_rows("subscriptions"), 1);
    browser
        .assert_accessible("the report page with its follow form")
        .await;
    browser.assert_no_errors("the report page").await;
    // The server names what it refuses, here a throwaway address.
    browser
        .eval("document.querySelector('#follow-email').value = ''; return null")
        .await;
    browser
        .type_into("#follow-email", "ana@mailinator.com")
        .await;
    browser.click("#follow-form button").await;
    browser.wait_for_text("#follow-messages", "throwaway").await;

    // Staff close the report; its reporter is asked, and answers on a plain page.
    let staff = app.issue_key(Role::Planner);
    let response = app
        .change_status(
            &report,
            &staff,
            json!({"status": "fixed", "status_notes": "Patched."}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let started = std::time::Instant::now();
    let link = loop {
        let found = mail_in(outbox.path()).into_iter().find_map(|m| {
            let at = m.find("/feedback/")?;
            let start = m[..at].rfind("http")?;
            Some(m[start..].split_whitespace().next()?.to_owned())
        });
        if let Some(link) = found {
            break link;
        }
        assert!(started.elapsed().as_secs() < 60, "no feedback message");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    browser.goto(&link).await;
    browser.wait_for_css("form").await;
    browser.assert_accessible("the feedback page").await;
    browser.click("input[name=fixed][value=no]").await;
    browser
        .type_into("#reason", "Still a hole by the kerb")
        .await;
    browser.click("input[name=satisfaction][value='2']").await;
    browser.click("form button").await;
    let answer = browser.wait_for_text("main", "reopened").await;
    assert!(answer.contains(&format!("report {report}")), "{answer}");
    browser.assert_accessible("the feedback answer page").await;
    let reopened = app.request_with_extensions(&report).await;
    assert_eq!(reopened["status"], "open");
    browser.close().await;
}

#[tokio::test]
async fn an_agent_files_a_phoned_report_joins_an_existing_issue_and_prints_a_receipt() {
    let app = tiny_city().await;
    let Some(browser) = browser::open(1280, 900).await else {
        return;
    };
    let agent = app.issue_key(Role::Agent);
    browser.goto(&app.url("/agent")).await;
    browser.wait_rendered().await;
    // A key of another role is refused in words.
    browser
        .type_into("#agent-key", &app.issue_key(Role::Client))
        .await;
    browser.click("#agent-sign-in button").await;
    browser
        .wait_for_text("#messages", "sign in with an agent key")
        .await;
    browser
        .eval("document.querySelector('#agent-key').value = ''; return null")
        .await;
    browser.type_into("#agent-key", &agent).await;
    browser.click("#agent-sign-in button").await;
    browser.wait_for_text("#agent-who", "Signed in as").await;

    // A caller phones about a pothole: the agent places it and fills in who called.
    report_pothole_at_the_centre(&browser).await;
    browser.click("input[name=channel][value=counter]").await;
    browser.type_into("#first-name", "Ana").await;
    browser.type_into("#last-name", "Lopez").await;
    browser.type_into("#phone", "+1 315 555 0199").await;
    browser.assert_accessible("the agents' page").await;
    browser.click("#send").await;
    let reference = browser.wait_for_css("#reference").await;
    let first = reference.text().await.unwrap();
    let shown = app.request_with_extensions(&first).await;
    assert_eq!(shown["extended_attributes"]["channel"], "counter");
    let public = shown.to_string();
    assert!(
        !public.contains("Lopez") && !public.contains("555 0199"),
        "the caller's name and number are never public: {public}"
    );
    assert_eq!(
        app.query_number(&format!(
            "SELECT COUNT(*) AS n FROM requests WHERE id = {first} AND last_name = 'Lopez' AND phone = '+1 315 555 0199'"
        )),
        1,
        "but they are kept for the city"
    );

    // A second caller about the same pothole: the agent sees it nearby and joins it.
    browser.click("#done button").await;
    browser.wait_rendered().await;
    report_pothole_at_the_centre(&browser).await;
    let join = browser.wait_for_css("#nearby-list button.join").await;
    join.click().await.unwrap();
    let second = browser
        .wait_for_css("#reference")
        .await
        .text()
        .await
        .unwrap();
    assert_ne!(first, second);
    let (a, b) = (issue_of(&app, &first).await, issue_of(&app, &second).await);
    assert_eq!(a, b, "the second call joined the first issue");
    assert_eq!(
        app.request_with_extensions(&second).await["extended_attributes"]["channel"],
        "phone"
    );
    browser.assert_no_errors("the agents' page").await;

    // The report page prints as a one-page receipt: no map, no forms.
    browser.goto(&app.url(&format!("/report/{first}"))).await;
    browser.wait_rendered().await;
    let printed = browser
        .eval(
            "const hidden = (css) => [...document.styleSheets].flatMap((s) => [...s.cssRules]).some((r) => r.media && r.media.mediaText === 'print' && [...r.cssRules].some((c) => c.selectorText && c.selectorText.includes(css) && c.style.display === 'none')); return hidden('#map') && hidden('#follow');",
        )
        .await;
    assert_eq!(printed, json!(true));
    browser.close().await;
}

#[tokio::test]
async fn a_resident_reads_the_pages_in_french_with_dates_and_numbers_for_the_locale_and_the_choice_is_remembered()
 {
    let app = tiny_city().await;
    let Some(browser) = browser::open(1280, 900).await else {
        return;
    };
    let report = app.submit(&pothole_at(43.05, -76.15)).await;
    browser.goto(&app.url("/")).await;
    browser.wait_rendered().await;
    assert_eq!(browser.text("h1").await, "Report a problem in your street");
    // The switch is a link in the header, named in the language it leads to.
    browser.click("#lang-switch").await;
    browser.wait_for_text("h1", "Signaler un problème").await;
    browser.wait_rendered().await;
    assert_eq!(
        browser.eval("return document.documentElement.lang").await,
        json!("fr")
    );
    let options = browser
        .eval("return [...document.querySelectorAll('#service option')].map((o) => o.textContent).join('|')")
        .await;
    assert!(
        options.as_str().unwrap().contains("Nid-de-poule"),
        "{options}"
    );
    assert_eq!(browser.text("#lang-switch").await, "English");
    browser
        .assert_accessible("the residents' page in French")
        .await;

    // Another page remembers it; its dates are French.
    browser.goto(&app.url(&format!("/report/{report}"))).await;
    browser.wait_rendered().await;
    assert_eq!(browser.text("h1").await, "Votre signalement");
    let facts = browser.text("dl.facts").await;
    assert!(facts.contains("Signalé"), "{facts}");
    let month = chrono::Utc::now().format("%m").to_string();
    let french_months = [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ];
    let this_month = french_months[month.parse::<usize>().unwrap() - 1];
    assert!(
        facts.contains(this_month),
        "a French date ({this_month}) in {facts}"
    );
    browser.assert_accessible("the report page in French").await;
    // The staff's pages as well.
    for (path, heading) in [
        ("/crew", "Le travail du jour"),
        ("/planner", "Où seront les prochains nids-de-poule"),
        (
            "/model",
            "Comment fonctionne le modèle de risque de la ville",
        ),
        ("/agent", "Prendre un signalement pour un résident"),
    ] {
        browser.goto(&app.url(path)).await;
        browser.wait_rendered().await;
        assert_eq!(browser.text("h1").await, heading, "{path}");
        browser
            .assert_accessible(&format!("{path} in French"))
            .await;
    }
    browser.goto(&app.url("/neighbourhoods")).await;
    browser.wait_rendered().await;
    assert!(browser.text("#as-of").await.starts_with("Chiffres au"));
    browser
        .assert_accessible("the neighbourhood page in French")
        .await;

    // Back to English, remembered as well.
    browser.click("#lang-switch").await;
    browser
        .wait_for_text("h1", "How each neighbourhood is served")
        .await;
    browser.goto(&app.url("/")).await;
    browser.wait_rendered().await;
    assert_eq!(browser.text("h1").await, "Report a problem in your street");
    browser.assert_no_errors("the pages in two languages").await;
    browser.close().await;
}

/// Pixels of the map's tile canvases in each of the planner legend's five colours.
const PALETTE_PIXELS: &str = r##"
const palette = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"]
  .map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
const counts = palette.map(() => 0);
for (const canvas of document.querySelectorAll("#map canvas.leaflet-tile")) {
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 128) continue;
    const k = palette.findIndex((c) => Math.abs(c[0] - d[i]) + Math.abs(c[1] - d[i + 1]) + Math.abs(c[2] - d[i + 2]) < 12);
    if (k >= 0) counts[k] += 1;
  }
}
return counts;
"##;

/// Pixels of the map's tile canvases in the streets' grey.
const STREET_PIXELS: &str = r##"
let n = 0;
for (const canvas of document.querySelectorAll("#map canvas.leaflet-tile")) {
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] >= 128 && Math.abs(d[i] - 141) + Math.abs(d[i + 1] - 153) + Math.abs(d[i + 2] - 166) < 12) n += 1;
  }
}
return n;
"##;
