use super::*;
use crate::city::{CityParams, CitySize, generate};
use chrono::NaiveDate;

fn tiny() -> City {
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date");
    generate(&CityParams::demo(42, CitySize::Tiny, end), &mut |_| {})
}

#[test]
fn the_models_rank_far_better_than_chance_and_below_the_oracle_on_a_generated_city() {
    let city = tiny();
    let (history, defects, truth) = from_city(&city);
    let dates = evaluate::as_of_dates(city.params.start(), city.params.end);
    let forest = ForestParams {
        trees: 8,
        rows_per_tree: 4_000,
        ..ForestParams::default()
    };
    let evaluation = evaluate::evaluate(
        &history,
        &defects,
        &dates,
        Some(&truth),
        LogisticParams::default(),
        forest,
        &mut |_| {},
    )
    .expect("trains");
    let holdout = &evaluation.holdout;
    let random = holdout.baselines["random"].roc_auc;
    assert!(
        (random - 0.5).abs() < 0.05,
        "random ranks at chance: {random}"
    );
    for scored in [&holdout.logistic, &holdout.forest] {
        assert!(
            scored.ranking.roc_auc > random + 0.1,
            "{}",
            scored.ranking.roc_auc
        );
        assert!(scored.ece < 0.1, "calibrated: {}", scored.ece);
    }
    let oracle = holdout
        .oracle
        .as_ref()
        .expect("the synthetic city has an oracle");
    assert!(oracle.roc_auc >= holdout.logistic.ranking.roc_auc - 0.02);
    assert_eq!(evaluation.folds.len(), 3);
    for fold in &evaluation.folds {
        assert!(fold.to < holdout.from - chrono::Duration::days(evaluate::HORIZON_DAYS));
    }
}

#[test]
fn a_label_is_a_new_defect_within_the_horizon_after_the_as_of_day() {
    let day = |s: &str| s.parse::<chrono::NaiveDate>().expect("a date");
    let defects = Defects::found(LabelKind::TruePotholes, vec![vec![day("2025-02-10")]]);
    assert!(defects.label(0, day("2025-01-20"), 28));
    assert!(
        !defects.label(0, day("2025-02-10"), 28),
        "formed on the as-of day: already known"
    );
    assert!(
        !defects.label(0, day("2025-01-01"), 28),
        "more than 28 days ahead"
    );
    assert!(defects.label(0, day("2025-01-01"), 365), "within a year");
}

#[test]
fn a_repair_is_new_evidence_only_when_no_road_surface_issue_was_open_at_the_as_of_day() {
    let day = |s: &str| s.parse::<chrono::NaiveDate>().expect("a date");
    let defects = Defects {
        kind: LabelKind::NewDefectEvidence,
        found: vec![vec![day("2025-01-05")], vec![]],
        repairs: vec![vec![day("2025-01-12")], vec![day("2025-03-01")]],
        open: vec![vec![(day("2025-01-05"), day("2025-01-12"))], vec![]],
    };
    assert!(
        !defects.label(0, day("2025-01-06"), 28),
        "the repair mended what was reported before the as-of day: the queue, not news"
    );
    assert!(
        defects.label(0, day("2025-01-01"), 28),
        "the report itself is new after this as-of day"
    );
    assert!(
        defects.label(1, day("2025-02-15"), 28),
        "a repair nobody reported is new evidence"
    );
}

#[test]
fn explanations_name_features_with_signed_effects_in_words() {
    let city = tiny();
    let (history, defects, _) = from_city(&city);
    let dates = evaluate::as_of_dates(city.params.start(), city.params.end);
    let rows = evaluate::Rows::build(&history, &defects, &dates);
    let (standardiser, learner) =
        model::fit_logistic(&rows.rows, &rows.labels, LogisticParams::default()).expect("fits");
    let model = Model::calibrated("logistic", standardiser, learner, &rows.rows, &rows.labels);
    let explanation = model.explain(&rows.rows[rows.rows.len() - 1], 4);
    assert!(!explanation.is_empty());
    for c in &explanation {
        assert!(
            c.sentence.starts_with("Risk is higher") || c.sentence.starts_with("Risk is lower")
        );
        assert_eq!(c.sentence.starts_with("Risk is higher"), c.effect > 0.0);
    }
    // Old pavement and rough pavement wear out first, as in the generator's truth.
    let model::Learner::Logistic { weights, .. } = &model.learner else {
        unreachable!("fitted a regression")
    };
    for name in ["surface_age_years", "roughness_mean_28d"] {
        let j = FEATURES
            .iter()
            .position(|f| f.name == name)
            .expect("a feature");
        assert!(weights[j] > 0.0, "{name}: {weights:?}");
    }
}

#[test]
fn forest_settings_that_cannot_grow_a_forest_are_refused_with_every_reason() {
    let rows = vec![[0.0; features::FEATURE_COUNT]; 10];
    let labels: Vec<bool> = (0..10).map(|i| i % 2 == 0).collect();
    let params = ForestParams {
        trees: 0,
        min_rows_per_leaf: 40,
        ..ForestParams::default()
    };
    let message = model::fit_forest(&rows, &labels, params)
        .expect_err("refused")
        .to_string();
    assert!(message.contains("trees is 0"), "{message}");
    assert!(
        message.contains("10 training rows are too few"),
        "{message}"
    );
}

#[test]
fn a_forest_fitted_twice_on_the_same_rows_is_the_same_forest() {
    let city = tiny();
    let (history, defects, _) = from_city(&city);
    let dates = evaluate::as_of_dates(city.params.start(), city.params.end);
    let rows = evaluate::Rows::build(&history, &defects, &dates[..20]);
    let params = ForestParams {
        trees: 4,
        rows_per_tree: 2_000,
        ..ForestParams::default()
    };
    let fit = || model::fit_forest(&rows.rows, &rows.labels, params).expect("fits");
    assert_eq!(fit(), fit());
}

#[test]
fn linfa_trees_keeps_sibling_leaves_of_one_class_when_asked() {
    use linfa::prelude::*;
    let city = tiny();
    let (history, defects, _) = from_city(&city);
    let dates = evaluate::as_of_dates(city.params.start(), city.params.end);
    let rows = evaluate::Rows::build(&history, &defects, &dates[..20]);
    let x = ndarray::Array2::from_shape_fn((rows.rows.len(), features::FEATURE_COUNT), |(i, j)| {
        let v = rows.rows[i][j];
        if v.is_finite() { v } else { 0.0 }
    });
    let y: ndarray::Array1<usize> = rows.labels.iter().map(|&l| usize::from(l)).collect();
    let data = Dataset::new(x, y);
    let leaves = |prune: bool| {
        linfa_trees::DecisionTree::params()
            .max_depth(Some(8))
            .min_weight_leaf(20.0)
            .prune_equal_leaves(prune)
            .fit(&data)
            .expect("fits")
            .iter_nodes()
            .filter(|n| n.is_leaf())
            .count()
    };
    let (pruned, kept) = (leaves(true), leaves(false));
    assert!(kept > pruned, "{kept} leaves kept, {pruned} after pruning");
}

#[test]
fn linfa_trees_binned_search_takes_the_best_split_of_every_node() {
    use linfa::prelude::*;
    use rand::{Rng, SeedableRng};
    // Random bin numbers and a label that depends on two of them, with uneven weights.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let (n, nfeatures) = (3_000, 8);
    let x = ndarray::Array2::from_shape_fn((n, nfeatures), |_| f64::from(rng.gen_range(0u8..60)));
    let y: Vec<bool> = (0..n)
        .map(|i| x[[i, 2]] + 0.5 * x[[i, 5]] + rng.gen_range(0.0..40.0) > 60.0)
        .collect();
    let weight: Vec<f32> = (0..n).map(|i| 1.0 + (i % 3) as f32).collect();
    let min_leaf = 20.0;
    let data = Dataset::new(
        x.clone(),
        y.iter()
            .map(|&l| usize::from(l))
            .collect::<ndarray::Array1<usize>>(),
    )
    .with_weights(ndarray::Array1::from(weight.clone()));
    let tree = linfa_trees::DecisionTree::params()
        .max_depth(Some(4))
        .min_weight_leaf(min_leaf)
        .prune_equal_leaves(false)
        .binned(true)
        .fit(&data)
        .expect("fits");
    // Weighted gini of a split of `rows`, or None when a side is below the leaf minimum.
    let score = |rows: &[usize], feature: usize, bin: f64| -> Option<f64> {
        let (mut l, mut r) = ([0.0f64; 2], [0.0f64; 2]);
        for &i in rows {
            let side = if x[[i, feature]] <= bin {
                &mut l
            } else {
                &mut r
            };
            side[usize::from(y[i])] += f64::from(weight[i]);
        }
        let (wl, wr) = (l[0] + l[1], r[0] + r[1]);
        let gini = |s: [f64; 2], w: f64| 1.0 - (s[0] / w).powi(2) - (s[1] / w).powi(2);
        (wl >= f64::from(min_leaf) && wr >= f64::from(min_leaf))
            .then(|| (wl * gini(l, wl) + wr * gini(r, wr)) / (wl + wr))
    };
    let mut checked = 0;
    let mut nodes = vec![(tree.root_node(), (0..n).collect::<Vec<usize>>())];
    while let Some((node, rows)) = nodes.pop() {
        if node.is_leaf() {
            continue;
        }
        let (feature, value, _) = node.split();
        let chosen = score(&rows, feature, value).expect("the split keeps both leaves");
        let best = (0..nfeatures)
            .flat_map(|f| (0..60).map(move |b| (f, b)))
            .filter_map(|(f, b)| score(&rows, f, f64::from(b)))
            .fold(f64::INFINITY, f64::min);
        assert!(
            chosen <= best + 1e-6,
            "node at depth {}: {chosen} against the best {best}",
            node.depth()
        );
        checked += 1;
        let (left, right): (Vec<usize>, Vec<usize>) =
            rows.iter().partition(|&&i| x[[i, feature]] <= value);
        let children = node.children();
        nodes.push((children[0].as_deref().expect("left"), left));
        nodes.push((children[1].as_deref().expect("right"), right));
    }
    assert!(checked >= 7, "{checked} inner nodes checked");
}

#[test]
fn linfa_trees_refuses_a_value_that_is_not_a_bin_number_when_binned() {
    use linfa::prelude::*;
    let x = ndarray::array![[0.0, 1.0], [2.5, 3.0], [1.0, 2.0]];
    let y = ndarray::array![0usize, 1, 0];
    let message = linfa_trees::DecisionTree::params()
        .binned(true)
        .fit(&Dataset::new(x, y))
        .expect_err("refused")
        .to_string();
    assert!(message.contains("row 1, feature 0 is 2.5"), "{message}");
}

/// `history` with only the reports and probe readings scoring as of `as_of` reads.
fn window(history: &History, as_of: NaiveDate, reports_days: i64, roughness_days: i64) -> History {
    let mut out = history.clone();
    let after = |days: i64| as_of - chrono::Duration::days(days);
    for list in &mut out.reports {
        list.retain(|d| *d > after(reports_days));
    }
    for list in &mut out.roughness {
        list.retain(|r| r.0 > after(roughness_days));
    }
    out
}

fn same_rows(a: &History, b: &History, as_of: NaiveDate) -> bool {
    (0..a.segments.len()).all(|s| {
        let (x, y) = (features::row(a, s, as_of), features::row(b, s, as_of));
        x.iter().zip(&y).all(|(u, v)| u.to_bits() == v.to_bits())
    })
}

#[test]
fn a_history_of_the_lookback_windows_alone_gives_every_row_scoring_reads() {
    use features::{REPORT_LOOKBACK_DAYS, ROUGHNESS_LOOKBACK_DAYS};
    let (history, _, _) = from_city(&tiny());
    let last = *history.reports.iter().flatten().max().expect("reports");
    for weeks_back in [0, 9, 30] {
        let as_of = last - chrono::Duration::weeks(weeks_back);
        let windowed = window(
            &history,
            as_of,
            REPORT_LOOKBACK_DAYS,
            ROUGHNESS_LOOKBACK_DAYS,
        );
        assert!(same_rows(&history, &windowed, as_of), "as of {as_of}");
    }
    // A day shorter, and some row changes within a week of as-of days: the windows are
    // no longer than they must be.
    let shorter_changes = |reports_days: i64, roughness_days: i64| {
        (0..7).any(|d| {
            let as_of = last - chrono::Duration::days(d);
            !same_rows(
                &history,
                &window(&history, as_of, reports_days, roughness_days),
                as_of,
            )
        })
    };
    assert!(shorter_changes(
        REPORT_LOOKBACK_DAYS - 1,
        ROUGHNESS_LOOKBACK_DAYS
    ));
    assert!(shorter_changes(
        REPORT_LOOKBACK_DAYS,
        ROUGHNESS_LOOKBACK_DAYS - 1
    ));
}

#[test]
fn rows_built_when_read_fit_the_same_models_as_rows_held_at_once() {
    let city = tiny();
    let (history, defects, _) = from_city(&city);
    let dates = evaluate::as_of_dates(city.params.start(), city.params.end);
    let dates = &dates[..20];
    let held = evaluate::Rows::build(&history, &defects, dates);
    let built = evaluate::WeeklyRows::new(&history, dates);
    let labels = built.labels(&defects, evaluate::HORIZON_DAYS);
    assert_eq!(labels, held.labels);
    assert_eq!(model::RowSource::len(&built), held.rows.len());
    let logistic = LogisticParams::default();
    assert_eq!(
        model::fit_logistic(&built, &labels, logistic).expect("fits"),
        model::fit_logistic(&held.rows, &held.labels, logistic).expect("fits")
    );
    let forest = ForestParams {
        trees: 4,
        rows_per_tree: 2_000,
        ..ForestParams::default()
    };
    let (standardiser, learner) = model::fit_forest(&built, &labels, forest).expect("fits");
    assert_eq!(
        (standardiser.clone(), learner.clone()),
        model::fit_forest(&held.rows, &held.labels, forest).expect("fits")
    );
    assert_eq!(
        Model::calibrated(
            "forest",
            standardiser.clone(),
            learner.clone(),
            &built,
            &labels
        ),
        Model::calibrated("forest", standardiser, learner, &held.rows, &held.labels)
    );
}

#[test]
fn a_feature_that_never_varies_in_training_gets_no_weight_whatever_its_value() {
    let city = tiny();
    let (history, defects, _) = from_city(&city);
    let dates = evaluate::as_of_dates(city.params.start(), city.params.end);
    let held = evaluate::Rows::build(&history, &defects, &dates[..20]);
    let no_rating = FEATURES
        .iter()
        .position(|f| f.name == "rating_missing")
        .expect("a feature");
    assert!(
        held.rows.iter().all(|r| r[no_rating] == 1.0),
        "the demo city rates no street"
    );
    let fit = |rows: &[model::Row]| {
        model::fit_logistic(rows, &held.labels, LogisticParams::default()).expect("fits")
    };
    let (_, learner) = fit(&held.rows);
    let model::Learner::Logistic { weights, .. } = &learner else {
        panic!("a regression");
    };
    assert_eq!(weights[no_rating], 0.0);
    assert!(weights.iter().filter(|w| **w != 0.0).count() > 10);
    let mut shifted = held.rows.clone();
    for row in &mut shifted {
        row[no_rating] = 7.0;
    }
    assert_eq!(fit(&shifted).1, learner);
}

#[test]
fn the_spread_read_in_chunks_on_every_core_matches_two_passes_over_every_row() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    // Several chunks and a ragged last one; a large offset, where a one-pass sum of
    // squares would lose the variance; and a feature that is missing in most rows.
    let rows: Vec<model::Row> = (0..100_003)
        .map(|i| {
            let mut row = [0.0; features::FEATURE_COUNT];
            row[0] = 1e6 + rng.gen_range(0.0..1.0);
            row[1] = if i % 7 == 0 {
                rng.gen_range(-5.0..5.0)
            } else {
                f64::NAN
            };
            row[2] = 4.0;
            row
        })
        .collect();
    let spread = model::Spread::fit(&rows);
    let finite = |j: usize| rows.iter().map(move |r| r[j]).filter(|v| v.is_finite());
    for j in [0, 1] {
        let n = finite(j).count() as f64;
        let mean = finite(j).sum::<f64>() / n;
        let sd = (finite(j).map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!((spread.standardiser.mean[j] - mean).abs() < 1e-9 * mean.abs().max(1.0));
        assert!(
            (spread.standardiser.scale[j] - sd).abs() < 1e-9 * sd,
            "{j}: {sd}"
        );
        assert!(spread.varies[j]);
    }
    assert_eq!(spread.standardiser.mean[2], 4.0);
    assert!(!spread.varies[2], "a constant does not vary");
}

#[test]
fn the_oracle_finds_each_segments_hazard_by_date_whatever_order_it_came_in() {
    let day = |s: &str| s.parse::<NaiveDate>().expect("a date");
    let hazard = evaluate::Hazard::from_weeks(
        2,
        [
            (1, day("2025-01-13"), 0.3),
            (0, day("2025-01-13"), 0.2),
            (0, day("2025-01-06"), 0.1),
            (5, day("2025-01-06"), 0.9),
        ],
    );
    assert_eq!(hazard.get(0, day("2025-01-06")), Some(0.1));
    assert_eq!(hazard.get(0, day("2025-01-13")), Some(0.2));
    assert_eq!(hazard.get(1, day("2025-01-13")), Some(0.3));
    assert_eq!(hazard.get(1, day("2025-01-06")), None);
    assert_eq!(hazard.get(5, day("2025-01-06")), None, "no such segment");
    assert!(!hazard.is_empty());
    assert!(evaluate::Hazard::default().is_empty());
}
