//! Risk model benchmarks (see scripts/risk_bench.sh).
//!
//! - `compare DB DIR`: the hold-out split of the evaluation on the city in DB. Writes
//!   the training rows (rebalanced as the models train: every positive and two negatives
//!   per positive) and the hold-out rows as CSV for scikit-learn, then fits linfa's
//!   logistic regression and Upkeep's forest of linfa trees on exactly those rows and
//!   prints fit times and hold-out ROC-AUC (uncalibrated scores: AUC does not need them).
//! - `score DB COPIES`: scores the city's segments repeated COPIES times (each copy
//!   with the same history) with the active model, timing features, probabilities and
//!   explanations together.

use backend::config::DatabaseUrl;
use backend::db::Database;
use models::risk::evaluate::{self, Rows};
use models::risk::metrics::roc_auc;
use models::risk::model::{ForestParams, LogisticParams, fit_forest, fit_logistic};
use models::risk::{FEATURES, History, Model};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::io::Write;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["compare", db, dir] => compare(&open(db)?, dir),
        ["score", db, copies] => score(&open(db)?, copies.parse()?),
        _ => anyhow::bail!("usage: risk_bench compare DB DIR | score DB COPIES"),
    }
}

fn open(url: &str) -> anyhow::Result<Database> {
    let url = DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?;
    Ok(Database::open(&url, 2)?)
}

fn write_csv(path: &str, rows: &Rows, indexes: &[usize]) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    writeln!(out, "{},label", names.join(","))?;
    for &i in indexes {
        for value in rows.rows[i] {
            if value.is_finite() {
                write!(out, "{value},")?;
            } else {
                write!(out, ",")?;
            }
        }
        writeln!(out, "{}", u8::from(rows.labels[i]))?;
    }
    Ok(())
}

fn compare(db: &Database, dir: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let observed = backend::risk::observe(db, &mut |_| {})?;
    let dates = evaluate::as_of_dates(observed.start, observed.end);
    let last = *dates.last().ok_or_else(|| anyhow::anyhow!("no dates"))?;
    let holdout_from = last - chrono::Duration::weeks(51);
    let (train_end, ..) = evaluate::windows_before(holdout_from);
    let train_dates: Vec<_> = dates.iter().copied().filter(|d| *d <= train_end).collect();
    let test_dates: Vec<_> = dates
        .iter()
        .copied()
        .filter(|d| *d >= holdout_from)
        .collect();
    let train = Rows::build(&observed.history, &observed.defects, &train_dates);
    let test = Rows::build(&observed.history, &observed.defects, &test_dates);
    // The rebalanced training rows, as the regression trains on them.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let positives: Vec<usize> = (0..train.labels.len())
        .filter(|&i| train.labels[i])
        .collect();
    let mut negatives: Vec<usize> = (0..train.labels.len())
        .filter(|&i| !train.labels[i])
        .collect();
    negatives.shuffle(&mut rng);
    negatives.truncate(positives.len() * 2);
    let mut chosen = positives;
    chosen.extend(negatives);
    chosen.sort_unstable();
    write_csv(&format!("{dir}/train.csv"), &train, &chosen)?;
    write_csv(
        &format!("{dir}/test.csv"),
        &test,
        &(0..test.rows.len()).collect::<Vec<_>>(),
    )?;
    let rows: Vec<_> = chosen.iter().map(|&i| train.rows[i]).collect();
    let labels: Vec<bool> = chosen.iter().map(|&i| train.labels[i]).collect();
    println!(
        "split: train {} – {} ({} rows, {} after rebalancing), hold-out {} – {} ({} rows)",
        train_dates[0],
        train_end,
        train.rows.len(),
        rows.len(),
        holdout_from,
        last,
        test.rows.len()
    );
    let auc = |standardiser: &models::risk::model::Standardiser,
               learner: &models::risk::model::Learner| {
        let scores: Vec<f64> = test
            .rows
            .iter()
            .map(|r| learner.score(&standardiser.apply(r)))
            .collect();
        roc_auc(&scores, &test.labels).unwrap_or(f64::NAN)
    };
    let keep_all = LogisticParams {
        negatives_per_positive: 1e9,
        ..LogisticParams::default()
    };
    for _ in 0..2 {
        let started = Instant::now();
        let (s, l) = fit_logistic(&rows, &labels, keep_all)?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "linfa logistic regression: fit {seconds:.2} s, hold-out ROC-AUC {:.4}",
            auc(&s, &l)
        );
        let params = ForestParams::default();
        let started = Instant::now();
        let (s, l) = fit_forest(&rows, &labels, params)?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "linfa trees, Upkeep's forest ({} trees, depth {}, {} rows each): fit {seconds:.2} s, hold-out ROC-AUC {:.4}",
            params.trees,
            params.max_depth,
            params.rows_per_tree,
            auc(&s, &l)
        );
    }
    Ok(())
}

fn score(db: &Database, copies: usize) -> anyhow::Result<()> {
    let observed = backend::risk::observe(db, &mut |_| {})?;
    let active = db
        .read(backend::db::risk::active_model)?
        .ok_or_else(|| anyhow::anyhow!("no active model: run upkeep train first"))?;
    let model: Model = serde_json::from_slice(&active.artifact)?;
    let one = &observed.history;
    let n = one.segments.len();
    let facts = (0..copies)
        .flat_map(|copy| {
            one.segments.iter().map(move |f| {
                let mut facts = f.clone();
                facts.neighbours = facts.neighbours.iter().map(|j| j + copy * n).collect();
                facts
            })
        })
        .collect();
    let mut many = History::new(facts);
    for copy in 0..copies {
        for s in 0..n {
            let at = copy * n + s;
            many.reports[at] = one.reports[s].clone();
            many.repairs[at] = one.repairs[s].clone();
            many.resurfacings[at] = one.resurfacings[s].clone();
            many.ratings[at] = one.ratings[s].clone();
            many.water_main_breaks[at] = one.water_main_breaks[s].clone();
            many.roughness[at] = one.roughness[s].clone();
        }
    }
    many.freeze_thaw_days = one.freeze_thaw_days.clone();
    for _ in 0..3 {
        let started = Instant::now();
        let scores = backend::risk::score_all(&model, &many, observed.end);
        let seconds = started.elapsed().as_secs_f64();
        let mean = scores.iter().map(|s| s.0).sum::<f64>() / scores.len() as f64;
        println!(
            "scored {} segments ({} model {}) with explanations in {seconds:.3} s; mean probability {mean:.3}",
            scores.len(),
            model.kind,
            active.version
        );
    }
    Ok(())
}
