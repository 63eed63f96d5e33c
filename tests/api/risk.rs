//! The risk model in the server: the map layer, one segment's explanation, the model
//! list, and who may retrain.

use crate::helpers::{spawn_app_with, spawn_tiny_city};
use backend::domain::Role;
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::test]
async fn planners_see_scored_segments_explanations_and_models_and_only_they_retrain() {
    let app = spawn_tiny_city().await;
    let none = app.get_json("/api/v1/risk", 404).await;
    assert_eq!(none["error"], "no_model");

    app.train_and_score().await;

    let models = app.get_json("/api/v1/models", 200).await;
    assert_eq!(models["total"], 1);
    assert_eq!(models["items"][0]["active"], true);
    assert_eq!(models["items"][0]["metrics"]["roc_auc"], 0.9);
    assert!(models["items"][0]["features"].as_array().unwrap().len() > 10);

    let segments = app.count_rows("segments");
    let layer: Value = app
        .client
        .get(app.url("/api/v1/risk?format=geojson&page_size=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let features = layer["features"].as_array().unwrap();
    assert_eq!(features.len() as i64, segments);
    for feature in features {
        let p = feature["properties"]["probability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        // Per km of road, for a budget of length.
        let length_km = feature["properties"]["length_m"].as_f64().unwrap() / 1000.0;
        let per_km = feature["properties"]["probability_per_km"]
            .as_f64()
            .unwrap();
        assert!(
            (per_km - p / length_km.max(0.001)).abs() < 0.001 + 1e-3 * per_km,
            "{per_km} per km for {p} over {length_km} km"
        );
        assert!(
            feature["properties"]["reason"]
                .as_str()
                .unwrap()
                .starts_with("Risk is")
        );
        assert_eq!(feature["geometry"]["type"], "LineString");
    }
    // A bounding box narrows the layer.
    let first = features[0]["geometry"]["coordinates"][0].clone();
    let (lon, lat) = (first[0].as_f64().unwrap(), first[1].as_f64().unwrap());
    let near = app
        .get_json(
            &format!(
                "/api/v1/risk?bbox={},{},{},{}",
                lon - 0.001,
                lat - 0.001,
                lon + 0.001,
                lat + 0.001
            ),
            200,
        )
        .await;
    let shown = near["total"].as_i64().unwrap();
    assert!(shown >= 1 && shown < segments);

    let id = features[0]["id"].as_i64().unwrap();
    let one = app
        .get_json(&format!("/api/v1/segments/{id}/risk"), 200)
        .await;
    assert_eq!(one["id"], id);
    let explanation = one["explanation"].as_array().unwrap();
    assert!(!explanation.is_empty());
    assert!(
        explanation
            .iter()
            .all(|c| c["effect"].is_number() && c["feature"].is_string())
    );
    assert_eq!(one["history"].as_array().unwrap().len(), 1);

    // Who may retrain.
    let post = |key: Option<String>| {
        let mut request = app.client.post(app.url("/api/v1/models/train"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(
        post(Some(app.issue_key(Role::Crew)))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(Some(app.issue_key(Role::Client)))
            .await
            .unwrap()
            .status(),
        403
    );
    let response = post(Some(app.issue_key(Role::Planner))).await.unwrap();
    assert_eq!(response.status(), 202);
    let started = Instant::now();
    loop {
        let models = app.get_json("/api/v1/models", 200).await;
        if models["total"] == 2 && models["training"] == false {
            assert_eq!(
                models["items"][0]["active"], true,
                "the new model is active"
            );
            assert_eq!(
                models["items"][1]["active"], false,
                "the old one stays listed"
            );
            assert!(models["items"][0]["metrics"]["roc_auc"].as_f64().unwrap() > 0.5);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "retraining finished: {models}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let one = app
        .get_json(&format!("/api/v1/segments/{id}/risk"), 200)
        .await;
    assert_eq!(
        one["history"].as_array().unwrap().len(),
        2,
        "re-scored after retraining"
    );
}

#[tokio::test]
async fn training_refuses_a_window_whose_reports_miss_a_month_and_names_it() {
    let app = spawn_tiny_city().await;
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut observed = backend::risk::observe(&db, &mut |_| {}).unwrap();
        // A month of the export lost: the demo city's reports of one month, a year
        // before its end, taken out.
        let lost = observed.end - chrono::Duration::days(365);
        let same_month = |d: &chrono::NaiveDate| {
            chrono::Datelike::year(d) == chrono::Datelike::year(&lost)
                && chrono::Datelike::month(d) == chrono::Datelike::month(&lost)
        };
        for days in &mut observed.history.reports {
            days.retain(|d| !same_month(d));
        }
        let refused = backend::risk::train(
            &db,
            &observed,
            backend::risk::Kind::Logistic,
            serde_json::json!({}),
            &mut |_| {},
        )
        .err()
        .expect("training is refused");
        let message = refused.to_string();
        assert!(
            message.contains(&lost.format("%Y-%m (0 records)").to_string()),
            "{message}"
        );
    })
    .await
    .unwrap();
}

/// Whether scoring's reading (the features' windows only) gives every segment the row
/// the whole history gives, as of the same last record.
fn scoring_reads_what_scoring_needs(db: backend::db::Database) -> chrono::NaiveDate {
    use backend::risk::{Reading, Task, observe_for};
    let whole = observe_for(&db, Task::default(), Reading::Training, &mut |_| {}).unwrap();
    let window = observe_for(&db, Task::default(), Reading::Scoring, &mut |_| {}).unwrap();
    assert_eq!(window.last_event, whole.last_event);
    assert_eq!(window.segment_ids, whole.segment_ids);
    let read = |o: &backend::risk::Observed| o.history.reports.iter().map(Vec::len).sum::<usize>();
    assert!(read(&window) < read(&whole), "scoring reads fewer reports");
    let as_of = whole.last_event;
    for s in 0..whole.segment_ids.len() {
        let (a, b) = (
            models::risk::features::row(&whole.history, s, as_of),
            models::risk::features::row(&window.history, s, as_of),
        );
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "segment {s}: {a:?} against {b:?}"
        );
    }
    as_of
}

#[tokio::test]
async fn scoring_reads_only_the_weeks_features_look_back_over_and_scores_as_the_whole_history_would()
 {
    let app = spawn_tiny_city().await;
    let db = app.db.clone();
    let demo_end = tokio::task::spawn_blocking(move || scoring_reads_what_scoring_needs(db))
        .await
        .unwrap();
    // A city that is not the demo ends with its last road-surface report or repair.
    app.execute("DELETE FROM demo_cities");
    let db = app.db.clone();
    let last_record = tokio::task::spawn_blocking(move || scoring_reads_what_scoring_needs(db))
        .await
        .unwrap();
    assert!(last_record <= demo_end);
}

#[tokio::test]
async fn only_road_surface_repairs_count_as_repairs_and_a_water_main_break_is_a_fact_of_its_own() {
    let app = spawn_tiny_city().await;
    let segment = app.query_number("SELECT MIN(id) AS n FROM segments");
    let before = {
        let db = app.db.clone();
        tokio::task::spawn_blocking(move || backend::risk::observe(&db, &mut |_| {}).unwrap())
            .await
            .unwrap()
    };
    let s = before
        .segment_ids
        .iter()
        .position(|&id| id == segment)
        .unwrap();
    for kind in [
        "street_light_out_repair",
        "graffiti_repair",
        "inspection",
        "water_main_break",
        "pothole_repair",
    ] {
        app.execute(&format!(
            "INSERT INTO maintenance_history (segment_id, kind, performed_at) \
             VALUES ({segment}, '{kind}', '2020-02-03 10:00:00')"
        ));
    }
    let db = app.db.clone();
    let after =
        tokio::task::spawn_blocking(move || backend::risk::observe(&db, &mut |_| {}).unwrap())
            .await
            .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2020, 2, 3).unwrap();
    let added = |before: &[chrono::NaiveDate], after: &[chrono::NaiveDate]| {
        after.iter().filter(|d| **d == day).count() - before.iter().filter(|d| **d == day).count()
    };
    assert_eq!(
        added(&before.history.repairs[s], &after.history.repairs[s]),
        1,
        "the pothole repair only: street lights and graffiti are not the road"
    );
    assert_eq!(
        added(&before.evidence.repairs[s], &after.evidence.repairs[s]),
        1
    );
    assert_eq!(after.history.water_main_breaks[s], vec![day]);
}

#[tokio::test]
async fn the_pieces_of_one_street_become_one_unit_with_their_lengths_and_events_pooled() {
    let app = spawn_tiny_city().await;
    let first = app.query_number("SELECT MIN(id) AS n FROM segments");
    let second = app.query_number(&format!(
        "SELECT MIN(id) AS n FROM segments WHERE id > {first}"
    ));
    app.execute(&format!(
        "UPDATE segments SET external_id = 'ST-1' WHERE id IN ({first}, {second}); \
         INSERT INTO maintenance_history (segment_id, kind, performed_at) \
         VALUES ({second}, 'pothole_repair', '2020-02-03 10:00:00')"
    ));
    let db = app.db.clone();
    let observed =
        tokio::task::spawn_blocking(move || backend::risk::observe(&db, &mut |_| {}).unwrap())
            .await
            .unwrap();
    let streets = observed.by_street();
    let n = observed.segment_ids.len();
    assert_eq!(streets.segment_ids.len(), n - 1, "two pieces, one street");
    let piece = |id: i64| observed.segment_ids.iter().position(|&s| s == id).unwrap();
    let (a, b) = (piece(first), piece(second));
    let unit = streets
        .external_ids
        .iter()
        .position(|e| e.as_deref() == Some("ST-1"))
        .unwrap();
    let length = streets.history.segments[unit].length_m;
    let expected = observed.history.segments[a].length_m + observed.history.segments[b].length_m;
    assert!((length - expected).abs() < 1e-9);
    assert_eq!(
        streets.history.repairs[unit].len(),
        observed.history.repairs[a].len() + observed.history.repairs[b].len()
    );
    assert_eq!(
        streets.evidence.repairs[unit].len(),
        observed.evidence.repairs[a].len() + observed.evidence.repairs[b].len()
    );
    assert!(
        !streets.history.segments[unit].neighbours.contains(&unit),
        "a street is not its own neighbour"
    );
}

#[tokio::test]
async fn grid_cells_pool_the_road_surface_reports_and_issues_whose_positions_they_hold() {
    let app = spawn_tiny_city().await;
    let db = app.db.clone();
    let cells = tokio::task::spawn_blocking(move || {
        backend::risk::observe_cells(
            &db,
            500.0,
            backend::risk::KnownCells::BeforeHoldOut,
            &mut |_| {},
        )
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(cells.unit, models::risk::Unit::Cell);
    let n = cells.segment_ids.len();
    assert!(n > 4, "{n} cells");
    let reports: usize = cells.history.reports.iter().map(Vec::len).sum();
    let located = app.query_number(
        "SELECT COUNT(*) AS n FROM requests r JOIN services s ON s.code = r.service_code \
         WHERE s.road_surface AND r.accepted_at IS NOT NULL AND r.lat IS NOT NULL",
    ) as usize;
    assert!(reports > 0 && reports <= located, "{reports} of {located}");
    let issues: usize = cells.evidence.found.iter().map(Vec::len).sum();
    let stored = app.query_number(
        "SELECT COUNT(*) AS n FROM issues i JOIN services s ON s.code = i.service_code \
         WHERE s.road_surface",
    ) as usize;
    assert!(issues > 0 && issues <= stored, "{issues} of {stored}");
    for (c, facts) in cells.history.segments.iter().enumerate() {
        assert!(facts.neighbours.len() <= 8);
        assert!(!facts.neighbours.contains(&c));
        for &other in &facts.neighbours {
            let (a, b) = (cells.points[c], cells.points[other]);
            assert!(
                (a.0 - b.0).abs() < 0.02 && (a.1 - b.1).abs() < 0.01,
                "neighbours touch"
            );
        }
    }
}

#[tokio::test]
async fn anyone_reads_the_model_card_in_plain_words_before_and_after_training() {
    let app = spawn_tiny_city().await;
    let none = app.get_json("/api/v1/model-card", 200).await;
    assert_eq!(none["status"], "none");
    assert!(none["never_uses"].as_array().unwrap().len() >= 3);

    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let observed = backend::risk::observe(&db, &mut |_| {}).unwrap();
        backend::risk::retrain(&db, &observed, backend::risk::Choice::Auto, &mut |_| {}).unwrap();
    })
    .await
    .unwrap();
    let card = app.get_json("/api/v1/model-card", 200).await;
    assert_eq!(card["status"], "active");
    assert_eq!(card["label"], "true_potholes");
    assert_eq!(card["horizon_days"], 28);
    assert!(
        card["predicts"]
            .as_str()
            .unwrap()
            .contains("next four weeks")
    );
    let uses = card["uses"].as_array().unwrap();
    assert_eq!(uses.len(), models::risk::FEATURES.len());
    let evaluation = &card["evaluation"];
    assert!(evaluation["precision_at_10pct"].as_f64().unwrap() > 0.0);
    assert!(
        evaluation["summary"]
            .as_str()
            .unwrap()
            .contains("of every 100 streets"),
        "{evaluation}"
    );
    assert!(
        evaluation["baselines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == "prior_reports")
    );
    assert!(
        card["equity"]["ratio"].is_number(),
        "the demo city has the check"
    );
    assert_eq!(
        card["equity"]["thirds_by"], "reporting_propensity",
        "measured by the demo city's own reporting habits"
    );
    assert!(card["model"]["trained_at"].is_string());
    let text = card.to_string().to_lowercase();
    for private in ["@", "password", "api_key"] {
        assert!(!text.contains(private), "{private} in the card");
    }

    let page = app.get_text("/model", 200).await;
    assert!(page.contains("How the city's risk model works"));
}

/// A model of grid cells of 500 m, 28 days ahead.
fn cells_task() -> backend::risk::Task {
    backend::risk::Task::new(
        models::risk::Unit::Cell,
        500.0,
        models::risk::Horizon::Weekly,
    )
    .unwrap()
}

/// A point's square among a layer's cells, by index.
fn cell_holding(cells: &[Value], (lon, lat): (f64, f64)) -> Option<usize> {
    cells.iter().position(|c| {
        let ring = c["geometry"]["coordinates"][0].as_array().unwrap();
        let (west, south) = (ring[0][0].as_f64().unwrap(), ring[0][1].as_f64().unwrap());
        let (east, north) = (ring[2][0].as_f64().unwrap(), ring[2][1].as_f64().unwrap());
        (west..east).contains(&lon) && (south..north).contains(&lat)
    })
}

/// The middle of a GeoJSON line's (or lines') bounding box.
fn middle_of(geometry: &Value) -> (f64, f64) {
    let mut points: Vec<&Value> = Vec::new();
    let coordinates = geometry["coordinates"].as_array().unwrap();
    if geometry["type"] == "LineString" {
        points.extend(coordinates);
    } else {
        points.extend(coordinates.iter().flat_map(|l| l.as_array().unwrap()));
    }
    let (lons, lats): (Vec<f64>, Vec<f64>) = points
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .unzip();
    let span = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        (lo + hi) / 2.0
    };
    (span(&lons), span(&lats))
}

#[tokio::test]
async fn a_model_of_grid_cells_maps_squares_riskiest_first_and_finds_them_by_box_or_circle() {
    let app = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
        s.risk_task = cells_task();
    })
    .await;
    app.train_and_score_for(cells_task()).await;

    let models = app.get_json("/api/v1/models", 200).await;
    let metrics = &models["items"][0]["metrics"];
    assert_eq!(metrics["unit"], "cell");
    assert_eq!(metrics["task"]["unit"], "cell");
    assert_eq!(metrics["task"]["cell_m"], 500.0);
    assert_eq!(metrics["horizon_days"], 28);

    let layer = app
        .get_json("/api/v1/risk?format=geojson&page_size=1000", 200)
        .await;
    let cells = layer["features"].as_array().unwrap();
    assert_eq!(cells.len() as i64, app.count_rows("risk_cell_scores"));
    assert!(cells.len() > 4, "{} cells", cells.len());
    let mut ids = std::collections::HashSet::new();
    let mut last = f64::MAX;
    for cell in cells {
        assert_eq!(cell["geometry"]["type"], "Polygon");
        let p = &cell["properties"];
        assert_eq!(p["unit"], "cell");
        assert_eq!(p["horizon_days"], 28);
        let probability = p["probability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&probability));
        assert!(probability <= last, "riskiest first");
        last = probability;
        assert!(!p["explanation"].as_array().unwrap().is_empty());
        assert!(p["reason"].as_str().unwrap().starts_with("Risk is"));
        assert!(ids.insert(cell["id"].as_i64().unwrap()), "ids are unique");
    }

    // A box around the riskiest cell's middle finds it and few others.
    let ring = cells[0]["geometry"]["coordinates"][0].as_array().unwrap();
    let lon = (ring[0][0].as_f64().unwrap() + ring[2][0].as_f64().unwrap()) / 2.0;
    let lat = (ring[0][1].as_f64().unwrap() + ring[2][1].as_f64().unwrap()) / 2.0;
    let boxed = app
        .get_json(
            &format!(
                "/api/v1/risk?bbox={},{},{},{}",
                lon - 0.0005,
                lat - 0.0005,
                lon + 0.0005,
                lat + 0.0005
            ),
            200,
        )
        .await;
    assert_eq!(boxed["total"], 1);
    assert_eq!(boxed["items"][0]["id"], cells[0]["id"]);
    // A circle of 10 m in it: that cell only, at no distance.
    let circled = app
        .get_json(
            &format!("/api/v1/risk?lat={lat}&lon={lon}&radius_m=10"),
            200,
        )
        .await;
    assert_eq!(circled["total"], 1);
    assert_eq!(circled["items"][0]["distance_m"], 0.0);
    // A wide circle reaches more cells, each no farther than the radius.
    let wide = app
        .get_json(
            &format!("/api/v1/risk?lat={lat}&lon={lon}&radius_m=1500"),
            200,
        )
        .await;
    assert!(wide["total"].as_i64().unwrap() > 1);
    for item in wide["items"].as_array().unwrap() {
        assert!(item["distance_m"].as_f64().unwrap() <= 1500.0);
    }

    // A segment in a scored cell has that cell's risk and reasons.
    let bbox = format!(
        "{},{},{},{}",
        ring[0][0], ring[0][1], ring[2][0], ring[2][1]
    );
    let segments = app
        .get_json(&format!("/api/v1/segments?bbox={bbox}&page_size=1000"), 200)
        .await;
    let inside = segments["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| cell_holding(&cells[..1], middle_of(&s["geometry"])).is_some())
        .expect("a segment in the riskiest cell");
    let one = app
        .get_json(&format!("/api/v1/segments/{}/risk", inside["id"]), 200)
        .await;
    assert_eq!(one["cell"], cells[0]["properties"]["cell"]);
    let p = one["probability"].as_f64().unwrap();
    assert!((p - cells[0]["properties"]["probability"].as_f64().unwrap()).abs() < 1e-4);
    assert_eq!(one["explanation"], cells[0]["properties"]["explanation"]);

    // What only segments have is refused, saying why.
    for asked in [
        "/api/v1/risk?road_class=arterial".to_owned(),
        format!("/api/v1/risk?lat={lat}&lon={lon}&nearest=3"),
    ] {
        let refused = app.get_json(&asked, 400).await;
        assert_eq!(refused["error"], "invalid_parameter");
        assert!(
            refused["message"].as_str().unwrap().contains("grid cells"),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn with_a_model_of_cells_orders_rank_by_their_cell_and_inspections_go_to_the_riskiest_cells()
{
    let app = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
        s.inspections_per_crew_per_week = 0;
        s.risk_task = cells_task();
    })
    .await;
    app.train_and_score_for(cells_task()).await;
    let layer = app
        .get_json("/api/v1/risk?format=geojson&page_size=1000", 200)
        .await;
    let cells = layer["features"].as_array().unwrap().clone();
    let probability = |i: usize| cells[i]["properties"]["probability"].as_f64().unwrap();

    // Priorities read the risk of the cell an order lies in. A planner setting the
    // weights (the same ones again) has every open order re-prioritised now.
    let planner = app.issue_key(Role::Planner);
    let weights = app.get_json("/api/v1/priority/weights", 200).await;
    let (status, body) = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/priority/weights",
            Some(&planner),
            Some(weights["weights"].clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let open = app
        .wait_for("/api/v1/work-orders?status=new&page_size=1000", |b| {
            b["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["priority_breakdown"]["risk"].as_f64().unwrap() > 0.0)
        })
        .await;
    let placed: Vec<(Option<usize>, f64)> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let at = (o["lon"].as_f64().unwrap(), o["lat"].as_f64().unwrap());
            (
                cell_holding(&cells, at),
                o["priority_breakdown"]["risk"].as_f64().unwrap(),
            )
        })
        .collect();
    for (cell, risk) in &placed {
        if cell.is_none() {
            assert_eq!(*risk, 0.0, "an order in no scored cell has no risk part");
        }
    }
    for (a, risk_a) in &placed {
        for (b, risk_b) in &placed {
            if let (Some(a), Some(b)) = (a, b)
                && probability(*a) > probability(*b) + 1e-3
            {
                assert!(risk_a > risk_b, "a riskier cell ranks its order higher");
            }
        }
    }

    // Inspections: the segment nearest the middle of each of the riskiest cells where
    // no segment has an open order.
    let busy: Vec<i64> = app
        .get_json(
            "/api/v1/work-orders?status=new,assigned,in_progress&page_size=1000",
            200,
        )
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["segment_id"].as_i64())
        .collect();
    let mut expected = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        if expected.len() == 3 {
            break;
        }
        let ring = cell["geometry"]["coordinates"][0].as_array().unwrap();
        let bbox = format!(
            "{},{},{},{}",
            ring[0][0], ring[0][1], ring[2][0], ring[2][1]
        );
        let segments = app
            .get_json(&format!("/api/v1/segments?bbox={bbox}&page_size=1000"), 200)
            .await;
        let inside: Vec<i64> = segments["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| cell_holding(&cells[i..=i], middle_of(&s["geometry"])).is_some())
            .map(|s| s["id"].as_i64().unwrap())
            .collect();
        if !inside.is_empty() && !inside.iter().any(|s| busy.contains(s)) {
            expected.push(i);
        }
    }
    let (status, body) = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/inspections",
            Some(&planner),
            Some(serde_json::json!({"budget": 3})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["planned"], expected.len());
    // Staff read the notes.
    let (_, inspections) = app
        .send_json(
            reqwest::Method::GET,
            "/api/v1/work-orders?kind=inspection",
            Some(&planner),
            None,
        )
        .await;
    let mut got: Vec<usize> = inspections["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert!(o["notes"].as_str().unwrap().contains("riskiest grid cells"));
            let at = (o["lon"].as_f64().unwrap(), o["lat"].as_f64().unwrap());
            cell_holding(&cells, at).expect("an inspection lies in a scored cell")
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_model_for_the_season_learns_from_the_same_day_each_year_and_says_how_far_it_looks() {
    let season = backend::risk::Task::new(
        models::risk::Unit::Segment,
        500.0,
        models::risk::Horizon::parse("season", "04-01").unwrap(),
    )
    .unwrap();
    let app = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = models::city::CitySize::Tiny;
        s.risk_task = season;
    })
    .await;
    app.train_and_score_for(season).await;
    let models = app.get_json("/api/v1/models", 200).await;
    let model = &models["items"][0];
    assert_eq!(model["metrics"]["horizon_days"], 182);
    assert_eq!(model["metrics"]["task"]["horizon"]["cadence"], "annual");
    // Fitted on as-of days that are all 1 April.
    for day in [&model["trained_from"], &model["trained_to"]] {
        assert!(day.as_str().unwrap().ends_with("-04-01"), "{model}");
    }
    let layer = app
        .get_json("/api/v1/risk?format=geojson&page_size=1000", 200)
        .await;
    let features = layer["features"].as_array().unwrap();
    assert_eq!(features.len() as i64, app.count_rows("segments"));
    for feature in features {
        assert_eq!(feature["properties"]["horizon_days"], 182);
        assert_eq!(feature["properties"]["unit"], "segment");
    }
    // The model card says so in words.
    let card = app.get_json("/api/v1/model-card", 200).await;
    assert!(
        card["predicts"].as_str().unwrap().contains("182 days"),
        "{card}"
    );

    // Chosen on the season's own folds (blocks of streets), the learner the folds liked
    // is the one kept, with the figures of its evaluation.
    let db = app.db.clone();
    let (kind, metrics) = tokio::task::spawn_blocking(move || {
        let observed = backend::risk::observe_for(
            &db,
            season,
            backend::risk::Reading::Evaluation,
            &mut |_| {},
        )
        .unwrap();
        let trained =
            backend::risk::retrain(&db, &observed, backend::risk::Choice::Auto, &mut |_| {})
                .unwrap();
        let active = db.read(backend::db::risk::active_model).unwrap().unwrap();
        (trained.kind.as_str(), active.metrics.0)
    })
    .await
    .unwrap();
    assert_eq!(metrics["candidates"].as_array().unwrap().len(), 3);
    assert!(
        metrics["model"].as_str().unwrap().starts_with(kind),
        "{metrics}"
    );
    assert_eq!(metrics["task"]["horizon"]["days"], 182);
    assert!(metrics["as_of"].as_str().unwrap().ends_with("-04-01"));

    // A model for one task does not score another's units.
    let db = app.db.clone();
    let refused = tokio::task::spawn_blocking(move || {
        let weekly = backend::risk::observe(&db, &mut |_| {}).unwrap();
        backend::risk::score(&db, &weekly)
            .err()
            .unwrap()
            .to_string()
    })
    .await
    .unwrap();
    assert!(refused.contains("182 days"), "{refused}");
}

/// Priorities are recomputed every minute; the latest run's percentiles are ranked once
/// per run and reused until another run replaces them.
#[tokio::test]
async fn the_latest_runs_percentiles_are_ranked_once_per_run() {
    use backend::risk::{Percentiles, RunCache};
    use std::sync::Arc;
    let app = spawn_tiny_city().await;
    let cache = RunCache::default();
    assert!(matches!(
        *cache.percentiles(&app.db).unwrap(),
        Percentiles::None
    ));
    app.train_and_score().await;
    let first = cache.percentiles(&app.db).unwrap();
    let again = cache.percentiles(&app.db).unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the same run is ranked once");
    let Percentiles::Segments(by_segment) = &*first else {
        panic!("a model of segments ranks segments");
    };
    assert_eq!(
        by_segment.len() as i64,
        app.count_rows("segments"),
        "every segment has its place"
    );
    // A new run is ranked afresh.
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.train_and_score().await;
    let newer = cache.percentiles(&app.db).unwrap();
    assert!(!Arc::ptr_eq(&first, &newer));
}

#[tokio::test]
async fn the_riskiest_segments_come_first_when_asked_over_the_city_or_a_box() {
    let app = spawn_tiny_city().await;
    app.train_and_score().await;
    let segments = app.count_rows("segments");
    let all = app
        .get_json("/api/v1/risk?format=geojson&page_size=1000", 200)
        .await;
    let features = all["features"].as_array().unwrap();
    let mut probabilities: Vec<f64> = features
        .iter()
        .map(|f| f["properties"]["probability"].as_f64().unwrap())
        .collect();
    probabilities.sort_by(|a, b| b.total_cmp(a));
    let top = app
        .get_json("/api/v1/risk?order=riskiest&page_size=5", 200)
        .await;
    assert_eq!(top["total"].as_i64().unwrap(), segments);
    let shown: Vec<f64> = top["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["probability"].as_f64().unwrap())
        .collect();
    assert_eq!(
        shown,
        probabilities[..5].to_vec(),
        "the five riskiest, riskiest first"
    );
    // Within a box, only what lies there, still riskiest first.
    let id = features[0]["properties"]["id"].as_i64().unwrap();
    let point = &features[0]["geometry"]["coordinates"][0];
    let (lon, lat) = (point[0].as_f64().unwrap(), point[1].as_f64().unwrap());
    let bbox = format!(
        "{},{},{},{}",
        lon - 0.002,
        lat - 0.002,
        lon + 0.002,
        lat + 0.002
    );
    let boxed = app
        .get_json(
            &format!("/api/v1/risk?order=riskiest&page_size=1000&bbox={bbox}"),
            200,
        )
        .await;
    let items = boxed["items"].as_array().unwrap();
    assert!(items.iter().any(|i| i["id"] == id));
    assert!((items.len() as i64) < segments);
    assert!(
        items
            .windows(2)
            .all(|w| w[0]["probability"].as_f64() >= w[1]["probability"].as_f64())
    );
    let wrong = app.get_json("/api/v1/risk?order=safest", 400).await;
    assert!(
        wrong["message"].as_str().unwrap().contains("riskiest"),
        "{wrong}"
    );
    let circle = app
        .get_json(
            "/api/v1/risk?order=riskiest&lat=43.05&lon=-76.15&radius_m=500",
            400,
        )
        .await;
    assert!(
        circle["message"].as_str().unwrap().contains("bbox"),
        "{circle}"
    );
}
