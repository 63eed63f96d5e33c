//! The two learners, their calibration, and per-segment explanations.
//!
//! - A standardised logistic regression (linfa-logistic): the calibrated baseline, and
//!   the model whose explanations are exact (weight × standardised value).
//! - A bagged forest of linfa decision trees. linfa's trees answer with a class only, so
//!   each tree's splits are kept and every node's rate of positives is counted from the
//!   rows that reach it: the forest averages leaf rates into a score, and a segment's
//!   path through each tree says which features moved the score (Saabas attribution).
//!
//! Training rebalances the classes by sampling negatives; calibration on a later,
//! untouched window (Platt for the regression, isotonic for the forest) turns scores
//! back into true probabilities, so evaluation never sees the rebalancing.

use super::features::{FEATURE_COUNT, FEATURES};
use linfa::prelude::*;
use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub type Row = [f64; FEATURE_COUNT];

/// Why a model could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the training window has no {0} rows")]
    NoRows(&'static str),
    #[error("linfa failed: {0}")]
    Linfa(String),
    #[error("the forest's settings cannot grow a forest: {0}")]
    Params(String),
}

/// Mean and spread of each feature in training; missing values become the mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardiser {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

/// Training rows by index, built when read: a large city's segment-weeks (ten million
/// rows of 36 numbers) are too many to hold at once, so a learner asks for the rows it
/// needs, when it needs them.
pub trait RowSource: Sync {
    fn len(&self) -> usize;
    fn row(&self, i: usize) -> Row;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RowSource for [Row] {
    fn len(&self) -> usize {
        <[Row]>::len(self)
    }
    fn row(&self, i: usize) -> Row {
        self[i]
    }
}

impl RowSource for Vec<Row> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn row(&self, i: usize) -> Row {
        self[i]
    }
}

/// Rows are read in chunks of this many, each on whichever core is free, and what the
/// chunks give is combined in chunk order: the same answer on any number of cores.
const CHUNK_ROWS: usize = 1 << 15;

/// `f` of every row, in row order, read on every core.
pub fn map_rows<R, T, F>(rows: &R, f: F) -> Vec<T>
where
    R: RowSource + ?Sized,
    T: Send,
    F: Fn(&Row) -> T + Sync + Send,
{
    (0..rows.len())
        .into_par_iter()
        .with_min_len(CHUNK_ROWS)
        .map(|i| f(&rows.row(i)))
        .collect()
}

/// `f` of the rows at `indexes`, in that order, read on every core.
fn map_rows_at<R, T, F>(rows: &R, indexes: &[usize], f: F) -> Vec<T>
where
    R: RowSource + ?Sized,
    T: Send,
    F: Fn(&Row) -> T + Sync + Send,
{
    indexes
        .par_iter()
        .with_min_len(CHUNK_ROWS)
        .map(|&i| f(&rows.row(i)))
        .collect()
}

/// One feature's count, mean and sum of squared deviations over some rows' finite
/// values: what Welford's update keeps, merged across chunks as Chan et al. do, so one
/// pass gives the variance as accurately as two.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    count: f64,
    mean: f64,
    squares: f64,
}

impl Moments {
    fn add(&mut self, v: f64) {
        self.count += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.count;
        self.squares += delta * (v - self.mean);
    }

    fn merge(&mut self, other: Moments) {
        let count = self.count + other.count;
        if other.count == 0.0 {
            return;
        }
        let delta = other.mean - self.mean;
        self.mean += delta * other.count / count;
        self.squares += other.squares + delta * delta * self.count * other.count / count;
        self.count = count;
    }
}

/// A standardiser fitted on training rows and which features vary in them: where both
/// learners start, so an evaluation fits it once for the two.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    pub standardiser: Standardiser,
    pub varies: [bool; FEATURE_COUNT],
}

impl Spread {
    /// Each feature's mean and spread over its finite values, in one pass over the rows
    /// (each built from the history as it is read) on every core.
    pub fn fit<R: RowSource + ?Sized>(rows: &R) -> Spread {
        let chunks: Vec<[Moments; FEATURE_COUNT]> = (0..rows.len().div_ceil(CHUNK_ROWS))
            .into_par_iter()
            .map(|c| {
                let mut moments = [Moments::default(); FEATURE_COUNT];
                for i in c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(rows.len()) {
                    for (m, v) in moments.iter_mut().zip(rows.row(i)) {
                        if v.is_finite() {
                            m.add(v);
                        }
                    }
                }
                moments
            })
            .collect();
        let mut total = [Moments::default(); FEATURE_COUNT];
        for chunk in chunks {
            for (t, m) in total.iter_mut().zip(chunk) {
                t.merge(m);
            }
        }
        let mut varies = [false; FEATURE_COUNT];
        let scale = (0..FEATURE_COUNT)
            .map(|j| {
                let var = total[j].squares / total[j].count.max(1.0);
                varies[j] = total[j].count > 0.0 && var > 1e-12;
                if varies[j] { var.sqrt() } else { 1.0 }
            })
            .collect();
        Spread {
            standardiser: Standardiser {
                mean: total.iter().map(|m| m.mean).collect(),
                scale,
            },
            varies,
        }
    }
}

impl Standardiser {
    /// Standardised values; a missing value sits at the mean (0).
    pub fn apply(&self, row: &Row) -> Row {
        let mut z = [0.0; FEATURE_COUNT];
        for j in 0..FEATURE_COUNT {
            z[j] = if row[j].is_finite() {
                (row[j] - self.mean[j]) / self.scale[j]
            } else {
                0.0
            };
        }
        z
    }
}

/// One tree as a flat list of nodes; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Share of positives among the training rows that reached this node.
    pub rate: f64,
    /// (feature, threshold, left, right): rows with a value below the threshold go left.
    pub split: Option<(usize, f64, usize, usize)>,
}

/// Out-of-bag rows read per tree for its rates, at most.
const OUT_OF_BAG_ROWS: usize = 60_000;
/// How many rows' worth of weight a node's rate gives its parent's: a node that few
/// out-of-bag rows reach keeps close to its parent's rate.
const SHRINK_ROWS: f64 = 10.0;

impl Tree {
    /// Sets every node's rate of positives from rows the tree was not grown on (out of
    /// bag), so a leaf's rate is an honest estimate rather than the purity the split
    /// search found in its own sample; each node is shrunk towards its parent.
    fn rate_out_of_bag<R: RowSource + ?Sized>(
        &mut self,
        rows: &R,
        labels: &[bool],
        in_bag: &[usize],
        standardiser: &Standardiser,
        rng: &mut ChaCha8Rng,
    ) {
        let bagged: HashSet<usize> = in_bag.iter().copied().collect();
        let unbagged = rows.len() - bagged.len();
        let out: Vec<usize> = if unbagged > 2 * OUT_OF_BAG_ROWS {
            // Rows by the million around a bag of thousands: draw until enough distinct
            // rows out of the bag are found, rather than list and shuffle them all.
            let mut drawn = HashSet::with_capacity(OUT_OF_BAG_ROWS);
            let mut out = Vec::with_capacity(OUT_OF_BAG_ROWS);
            while out.len() < OUT_OF_BAG_ROWS {
                let i = rng.gen_range(0..rows.len());
                if !bagged.contains(&i) && drawn.insert(i) {
                    out.push(i);
                }
            }
            out
        } else {
            let mut out: Vec<usize> = (0..rows.len()).filter(|i| !bagged.contains(i)).collect();
            if out.len() > OUT_OF_BAG_ROWS {
                out.shuffle(rng);
                out.truncate(OUT_OF_BAG_ROWS);
            }
            out
        };
        let mut counts = vec![(0usize, 0usize); self.nodes.len()];
        for &i in &out {
            let z = standardiser.apply(&rows.row(i));
            let positive = usize::from(labels[i]);
            let leaf = self.walk(&z, |node, _| {
                counts[node].0 += 1;
                counts[node].1 += positive;
            });
            counts[leaf].0 += 1;
            counts[leaf].1 += positive;
        }
        // Parents come before their children in the flat list.
        let mut parent_rate = vec![f64::NAN; self.nodes.len()];
        for at in 0..self.nodes.len() {
            let (n, k) = (counts[at].0 as f64, counts[at].1 as f64);
            let rate = if parent_rate[at].is_nan() {
                (k + 1.0) / (n + 2.0)
            } else {
                (k + SHRINK_ROWS * parent_rate[at]) / (n + SHRINK_ROWS)
            };
            self.nodes[at].rate = rate;
            if let Some((_, _, left, right)) = self.nodes[at].split {
                parent_rate[left] = rate;
                parent_rate[right] = rate;
            }
        }
    }

    /// Walks a standardised row from the root to its leaf, calling `step(node, child)`
    /// for each split passed; returns the leaf. (No allocation: scoring walks every tree
    /// for every segment.)
    fn walk(&self, z: &Row, mut step: impl FnMut(usize, usize)) -> usize {
        let mut at = 0;
        while let Some((feature, threshold, left, right)) = self.nodes[at].split {
            let next = if z[feature] < threshold { left } else { right };
            step(at, next);
            at = next;
        }
        at
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Learner {
    Logistic { weights: Vec<f64>, bias: f64 },
    Forest { trees: Vec<Tree> },
}

/// Maps a raw score to a probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Calibration {
    /// p = 1 / (1 + exp(-(a·score + b))), the score being the learner's log-odds.
    Platt { a: f64, b: f64 },
    /// Pool-adjacent-violators fit: increasing steps, interpolated between block centres.
    Isotonic {
        scores: Vec<f64>,
        probabilities: Vec<f64>,
    },
}

/// A trained, calibrated model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub kind: String,
    pub standardiser: Standardiser,
    pub learner: Learner,
    pub calibration: Calibration,
}

/// A feature's push on one segment's score (positive: towards more risk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub feature: String,
    pub value: f64,
    pub effect: f64,
    pub sentence: String,
}

/// How the forest is grown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: usize,
    /// Rows sampled for each tree, at most: half positives, and no more positive draws
    /// than there are positives.
    pub rows_per_tree: usize,
    pub min_rows_per_leaf: usize,
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            trees: 24,
            max_depth: 8,
            rows_per_tree: 24_000,
            min_rows_per_leaf: 40,
            seed: 7,
        }
    }
}

impl ForestParams {
    /// Checks the settings against the number of training rows: every problem named.
    pub fn check(&self, rows: usize) -> Result<(), TrainError> {
        let mut problems = Vec::new();
        if self.trees == 0 {
            problems.push("trees is 0: grow at least one".to_owned());
        }
        if self.max_depth == 0 {
            problems.push("max_depth is 0: a tree needs at least one split".to_owned());
        }
        if self.min_rows_per_leaf == 0 {
            problems.push("min_rows_per_leaf is 0: a leaf needs at least one row".to_owned());
        }
        if self.rows_per_tree < 2 * self.min_rows_per_leaf.max(1) {
            problems.push(format!(
                "rows_per_tree {} is less than two leaves of {} rows",
                self.rows_per_tree, self.min_rows_per_leaf
            ));
        }
        if rows < 2 * self.min_rows_per_leaf.max(1) {
            problems.push(format!(
                "{rows} training rows are too few for two leaves of {} rows",
                self.min_rows_per_leaf
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TrainError::Params(problems.join("; ")))
        }
    }
}

/// How the regression is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// L2 penalty.
    pub alpha: f64,
    pub max_iterations: u64,
    /// Negatives kept per positive in training (class rebalancing).
    pub negatives_per_positive: f64,
    pub seed: u64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            alpha: 1.0,
            // A bound only: the fit stops when the mean gradient is small
            // (`GRADIENT_TOLERANCE_PER_ROW`), well before this on every city so far.
            max_iterations: 100,
            negatives_per_positive: 2.0,
            seed: 7,
        }
    }
}

/// linfa sums the logistic loss over rows, so its gradient grows with the rows: the
/// tolerance is scaled by them, which stops L-BFGS where the mean gradient is below this
/// (scikit-learn's default tolerance, on its mean loss).
const GRADIENT_TOLERANCE_PER_ROW: f64 = 1e-4;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Row indexes with all positives and a sample of negatives, `ratio` per positive.
fn rebalanced(labels: &[bool], ratio: f64, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let positives: Vec<usize> = (0..labels.len()).filter(|&i| labels[i]).collect();
    let mut negatives: Vec<usize> = (0..labels.len()).filter(|&i| !labels[i]).collect();
    negatives.shuffle(rng);
    negatives.truncate(((positives.len() as f64 * ratio).ceil() as usize).max(1));
    let mut chosen = positives;
    chosen.extend(negatives);
    chosen.sort_unstable();
    chosen
}

/// The chosen rows, standardised, in the columns `kept`.
fn matrix<R: RowSource + ?Sized>(
    rows: &R,
    indexes: &[usize],
    standardiser: &Standardiser,
    kept: &[usize],
) -> Array2<f64> {
    let mut x = Array2::zeros((indexes.len(), kept.len()));
    x.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(indexes.par_iter())
        .with_min_len(CHUNK_ROWS)
        .for_each(|(mut out, &i)| {
            let z = standardiser.apply(&rows.row(i));
            for (o, &j) in out.iter_mut().zip(kept) {
                *o = z[j];
            }
        });
    x
}

/// Fits the logistic regression on rebalanced rows (uncalibrated).
///
/// A feature that never varies in training (a city without ratings has no rating
/// features) is a column of zeros once standardised: its weight is 0 at the penalised
/// optimum, so it is left out of the matrix rather than carried through the fit. On the
/// large demo city that is 13 of 36 columns: a third of the matrix.
pub fn fit_logistic<R: RowSource + ?Sized>(
    rows: &R,
    labels: &[bool],
    params: LogisticParams,
) -> Result<(Standardiser, Learner), TrainError> {
    fit_logistic_from(Spread::fit(rows), rows, labels, params)
}

/// [`fit_logistic`] from the rows' spread, already fitted.
pub fn fit_logistic_from<R: RowSource + ?Sized>(
    spread: Spread,
    rows: &R,
    labels: &[bool],
    params: LogisticParams,
) -> Result<(Standardiser, Learner), TrainError> {
    if !labels.iter().any(|&l| l) {
        return Err(TrainError::NoRows("positive"));
    }
    if labels.iter().all(|&l| l) {
        return Err(TrainError::NoRows("negative"));
    }
    let Spread {
        standardiser,
        varies,
    } = spread;
    let kept: Vec<usize> = (0..FEATURE_COUNT).filter(|&j| varies[j]).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let chosen = rebalanced(labels, params.negatives_per_positive, &mut rng);
    let x = matrix(rows, &chosen, &standardiser, &kept);
    let y: Array1<bool> = chosen.iter().map(|&i| labels[i]).collect();
    let fitted = linfa_logistic::LogisticRegression::default()
        .alpha(params.alpha)
        .max_iterations(params.max_iterations)
        .gradient_tolerance(GRADIENT_TOLERANCE_PER_ROW * chosen.len() as f64)
        .fit(&Dataset::new(x, y))
        .map_err(|e| TrainError::Linfa(e.to_string()))?;
    // linfa reports the probability of whichever class it calls positive: make it `true`.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let mut weights = vec![0.0; FEATURE_COUNT];
    for (&j, w) in kept.iter().zip(fitted.params()) {
        weights[j] = sign * w;
    }
    Ok((
        standardiser,
        Learner::Logistic {
            weights,
            bias: sign * fitted.intercept(),
        },
    ))
}

/// Grows the forest, two trees at a time (uncalibrated).
pub fn fit_forest<R: RowSource + ?Sized>(
    rows: &R,
    labels: &[bool],
    params: ForestParams,
) -> Result<(Standardiser, Learner), TrainError> {
    fit_forest_from(Spread::fit(rows), rows, labels, params)
}

/// [`fit_forest`] from the rows' spread, already fitted.
pub fn fit_forest_from<R: RowSource + ?Sized>(
    spread: Spread,
    rows: &R,
    labels: &[bool],
    params: ForestParams,
) -> Result<(Standardiser, Learner), TrainError> {
    params.check(rows.len())?;
    if !labels.iter().any(|&l| l) {
        return Err(TrainError::NoRows("positive"));
    }
    let standardiser = spread.standardiser;
    let positives: Vec<usize> = (0..labels.len()).filter(|&i| labels[i]).collect();
    let negatives: Vec<usize> = (0..labels.len()).filter(|&i| !labels[i]).collect();
    if negatives.is_empty() {
        return Err(TrainError::NoRows("negative"));
    }
    // Cuts from evenly spaced rows.
    let step = (rows.len() / BIN_SAMPLE_ROWS).max(1);
    let evenly: Vec<usize> = (0..rows.len()).step_by(step).collect();
    let bins = Bins::fit(&map_rows_at(rows, &evenly, |row| standardiser.apply(row)));
    // Each tree's bag is drawn first, so that only rows in some bag are binned (about
    // half a million of the large demo city's ten million), kept as bytes of bin numbers
    // (a standardised copy would be eight times the memory). The tree's generator goes
    // on to draw its out-of-bag rows.
    let seed_of = |t: usize| params.seed.wrapping_mul(1_000_003).wrapping_add(t as u64);
    let bags: Vec<(Vec<usize>, ChaCha8Rng)> = (0..params.trees)
        .map(|t| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed_of(t));
            // Bootstrap, rebalanced: half positives (with replacement), half negatives.
            // No more draws than there are positives, so about a third of them stay out
            // of the bag for the rates.
            let half = (params.rows_per_tree / 2).min(positives.len());
            let mut bag: Vec<usize> = (0..half)
                .map(|_| positives[rng.gen_range(0..positives.len())])
                .collect();
            bag.extend((0..half).map(|_| negatives[rng.gen_range(0..negatives.len())]));
            (bag, rng)
        })
        .collect();
    let mut bagged: Vec<usize> = bags
        .iter()
        .flat_map(|(bag, _)| bag.iter().copied())
        .collect();
    bagged.sort_unstable();
    bagged.dedup();
    let binned: Vec<[u8; FEATURE_COUNT]> =
        map_rows_at(rows, &bagged, |row| bins.apply(&standardiser.apply(row)));
    // A draw of about √F features at every split, as random forests do (per tree, as
    // before, let a tree ignore a strong feature entirely in all its nodes).
    let features_per_split = (FEATURE_COUNT as f64).sqrt().ceil() as usize;
    let grow = |t: usize| -> Result<Tree, TrainError> {
        let (sample, rng) = &bags[t];
        let mut rng = rng.clone();
        // A row drawn k times is one row of weight k: the same tree, fewer rows to sort.
        let mut drawn = sample.clone();
        drawn.sort_unstable();
        let mut unique: Vec<usize> = Vec::with_capacity(drawn.len());
        let mut weights: Vec<f32> = Vec::with_capacity(drawn.len());
        for i in drawn {
            if unique.last() == Some(&i) {
                *weights.last_mut().expect("a weight per row") += 1.0;
            } else {
                unique.push(i);
                weights.push(1.0);
            }
        }
        let bins_of: Vec<&[u8; FEATURE_COUNT]> = unique
            .iter()
            .map(|i| &binned[bagged.binary_search(i).expect("every bagged row is binned")])
            .collect();
        let x = Array2::from_shape_fn((unique.len(), FEATURE_COUNT), |(r, j)| {
            f64::from(bins_of[r][j])
        });
        let y: Array1<usize> = unique.iter().map(|&i| usize::from(labels[i])).collect();
        let data = Dataset::new(x, y).with_weights(Array1::from(weights));
        let fitted = linfa_trees::DecisionTree::params()
            .max_depth(Some(params.max_depth))
            .min_weight_leaf(params.min_rows_per_leaf as f32)
            .min_weight_split((2 * params.min_rows_per_leaf) as f32)
            // Keep sibling leaves that predict the same class: their rates differ
            // (vendor/linfa-trees/UPKEEP.md).
            .prune_equal_leaves(false)
            .max_features(Some(features_per_split))
            .seed(seed_of(t))
            // Bin numbers: a histogram split search (vendor/linfa-trees/UPKEEP.md).
            .binned(true)
            .fit(&data)
            .map_err(|e| TrainError::Linfa(e.to_string()))?;
        let mut tree = Tree { nodes: Vec::new() };
        flatten(fitted.root_node(), &bins, &mut tree.nodes);
        tree.rate_out_of_bag(rows, labels, sample, &standardiser, &mut rng);
        Ok(tree)
    };
    let trees: Vec<Result<Tree, TrainError>> = std::thread::scope(|scope| {
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(1);
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let grow = &grow;
                scope.spawn(move || {
                    (w..params.trees)
                        .step_by(workers)
                        .map(|t| (t, grow(t)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Result<Tree, TrainError>)> = handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![(0, Err(TrainError::Linfa("a tree panicked".into())))])
            })
            .collect();
        all.sort_by_key(|(t, _)| *t);
        all.into_iter().map(|(_, tree)| tree).collect()
    });
    Ok((
        standardiser,
        Learner::Forest {
            trees: trees.into_iter().collect::<Result<_, _>>()?,
        },
    ))
}

/// Bins per feature, at most: a split search weighs at most this many cuts a feature
/// (scikit-learn's histogram trees use 255; 64 keeps the trees' rates as good on the
/// demo city, see BENCHMARKS.md).
const MAX_BINS: usize = 64;
/// Rows read to place the cuts, about (evenly spaced through the training rows).
const BIN_SAMPLE_ROWS: usize = 50_000;

/// Each feature's cut points at its quantiles. The trees grow on bin numbers rather than
/// values, so a split search weighs a few dozen cuts instead of every distinct value;
/// a split after bin j then reads "standardised value below cut j", so scoring walks
/// the trees on plain standardised rows.
struct Bins {
    cuts: Vec<Vec<f64>>,
}

impl Bins {
    /// Cuts at the quantiles of these standardised rows.
    fn fit(z: &[Row]) -> Bins {
        let cuts = (0..FEATURE_COUNT)
            .map(|j| {
                let mut values: Vec<f64> = z.iter().map(|r| r[j]).collect();
                values.sort_unstable_by(f64::total_cmp);
                let mut cuts: Vec<f64> = (1..MAX_BINS)
                    .filter_map(|k| values.get(k * values.len() / MAX_BINS).copied())
                    .collect();
                cuts.dedup();
                cuts
            })
            .collect();
        Bins { cuts }
    }

    /// Each value's bin: how many of its feature's cuts are at or below it.
    fn apply(&self, z: &Row) -> [u8; FEATURE_COUNT] {
        let mut bins = [0u8; FEATURE_COUNT];
        for (j, cuts) in self.cuts.iter().enumerate() {
            // At most MAX_BINS - 1 cuts, so a bin number fits in a byte.
            bins[j] = cuts.partition_point(|&c| c <= z[j]) as u8;
        }
        bins
    }

    /// The standardised threshold of a split the tree placed between bin numbers:
    /// a bin at or below `split` holds exactly the values below cut ⌊split⌋.
    fn threshold(&self, feature: usize, split: f64) -> f64 {
        let cuts = &self.cuts[feature];
        let at = (split.max(0.0).floor() as usize).min(cuts.len().saturating_sub(1));
        cuts.get(at).copied().unwrap_or(f64::INFINITY)
    }
}

fn flatten(node: &linfa_trees::TreeNode<f64, usize>, bins: &Bins, out: &mut Vec<Node>) -> usize {
    let at = out.len();
    out.push(Node {
        rate: 0.0,
        split: None,
    });
    let children = node.children();
    if let (false, Some(Some(left)), Some(Some(right))) = (
        node.is_leaf(),
        children.first().copied(),
        children.get(1).copied(),
    ) {
        let (feature, split, _) = node.split();
        let l = flatten(left, bins, out);
        let r = flatten(right, bins, out);
        out[at].split = Some((feature, bins.threshold(feature, split), l, r));
    }
    at
}

impl Learner {
    /// The uncalibrated score: log-odds for the regression, mean leaf rate for the forest.
    pub fn score(&self, z: &Row) -> f64 {
        match self {
            Learner::Logistic { weights, bias } => {
                bias + weights.iter().zip(z).map(|(w, x)| w * x).sum::<f64>()
            }
            Learner::Forest { trees } => {
                trees
                    .iter()
                    .map(|t| t.nodes[t.walk(z, |_, _| {})].rate)
                    .sum::<f64>()
                    / trees.len().max(1) as f64
            }
        }
    }

    /// Each feature's push on the score (sums to score − the average score).
    fn contributions(&self, z: &Row) -> Row {
        let mut push = [0.0; FEATURE_COUNT];
        match self {
            Learner::Logistic { weights, .. } => {
                for j in 0..FEATURE_COUNT {
                    push[j] = weights[j] * z[j];
                }
            }
            Learner::Forest { trees } => {
                let share = 1.0 / trees.len() as f64;
                for tree in trees {
                    tree.walk(z, |node, child| {
                        if let Some((feature, ..)) = tree.nodes[node].split {
                            push[feature] +=
                                (tree.nodes[child].rate - tree.nodes[node].rate) * share;
                        }
                    });
                }
            }
        }
        push
    }
}

impl Calibration {
    /// Platt scaling on log-odds scores, by Newton's method.
    pub fn platt(scores: &[f64], labels: &[bool]) -> Calibration {
        let (mut a, mut b) = (1.0, 0.0);
        for _ in 0..50 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (&s, &l) in scores.iter().zip(labels) {
                let p = sigmoid(a * s + b);
                let d = p - f64::from(u8::from(l));
                let w = p * (1.0 - p);
                ga += d * s;
                gb += d;
                haa += w * s * s;
                hab += w * s;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-12 {
                break;
            }
            let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
            a -= da;
            b -= db;
            if da.abs() < 1e-9 && db.abs() < 1e-9 {
                break;
            }
        }
        Calibration::Platt { a, b }
    }

    /// Isotonic regression by pool-adjacent-violators.
    pub fn isotonic(scores: &[f64], labels: &[bool]) -> Calibration {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        // Blocks of (sum of scores, sum of labels, count).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for i in order {
            blocks.push((scores[i], f64::from(u8::from(labels[i])), 1.0));
            while blocks.len() > 1 {
                let (s2, y2, n2) = blocks[blocks.len() - 1];
                let (s1, y1, n1) = blocks[blocks.len() - 2];
                if y1 / n1 >= y2 / n2 {
                    blocks.truncate(blocks.len() - 2);
                    blocks.push((s1 + s2, y1 + y2, n1 + n2));
                } else {
                    break;
                }
            }
        }
        Calibration::Isotonic {
            scores: blocks.iter().map(|(s, _, n)| s / n).collect(),
            probabilities: blocks.iter().map(|(_, y, n)| y / n).collect(),
        }
    }

    pub fn apply(&self, score: f64) -> f64 {
        match self {
            Calibration::Platt { a, b } => sigmoid(a * score + b),
            Calibration::Isotonic {
                scores,
                probabilities,
            } => {
                if scores.is_empty() {
                    return 0.0;
                }
                let i = scores.partition_point(|s| *s <= score);
                if i == 0 {
                    probabilities[0]
                } else if i == scores.len() {
                    probabilities[scores.len() - 1]
                } else {
                    let t = (score - scores[i - 1]) / (scores[i] - scores[i - 1]).max(1e-12);
                    probabilities[i - 1] + t * (probabilities[i] - probabilities[i - 1])
                }
            }
        }
    }
}

impl Model {
    /// Calibrates a fitted learner on a later window's rows.
    pub fn calibrated<R: RowSource + ?Sized>(
        kind: &str,
        standardiser: Standardiser,
        learner: Learner,
        rows: &R,
        labels: &[bool],
    ) -> Model {
        let scores = map_rows(rows, |row| learner.score(&standardiser.apply(row)));
        Model::calibrated_on_scores(kind, standardiser, learner, &scores, labels)
    }

    /// Calibrates a fitted learner from its scores of a later window's rows.
    pub fn calibrated_on_scores(
        kind: &str,
        standardiser: Standardiser,
        learner: Learner,
        scores: &[f64],
        labels: &[bool],
    ) -> Model {
        let calibration = match learner {
            Learner::Logistic { .. } => Calibration::platt(scores, labels),
            Learner::Forest { .. } => Calibration::isotonic(scores, labels),
        };
        Model {
            kind: kind.to_owned(),
            standardiser,
            learner,
            calibration,
        }
    }

    pub fn probability(&self, row: &Row) -> f64 {
        self.calibration
            .apply(self.learner.score(&self.standardiser.apply(row)))
    }

    /// The features that moved this segment's score most, up or down, in words.
    pub fn explain(&self, row: &Row, how_many: usize) -> Vec<Contribution> {
        let push = self.learner.contributions(&self.standardiser.apply(row));
        // The forest's pushes are in probability units, the regression's in log-odds:
        // both are only compared within one segment, so the sign and order are what count.
        let mut order: Vec<usize> = (0..FEATURE_COUNT)
            .filter(|&j| push[j].abs() > 1e-9)
            .collect();
        order.sort_by(|&a, &b| push[b].abs().total_cmp(&push[a].abs()));
        order
            .into_iter()
            .take(how_many)
            .map(|j| {
                let feature = FEATURES[j];
                let direction = if push[j] > 0.0 { "higher" } else { "lower" };
                let shown = describe_value(feature.name, row[j]);
                Contribution {
                    feature: feature.name.to_owned(),
                    value: row[j],
                    effect: push[j],
                    sentence: format!(
                        "Risk is {direction} because of {} ({shown}).",
                        feature.meaning
                    ),
                }
            })
            .collect()
    }
}

/// A feature's value as a planner reads it.
fn describe_value(name: &str, value: f64) -> String {
    if !value.is_finite() {
        return "not known".into();
    }
    match name {
        "arterial" | "collector" | "bus_route" => if value > 0.5 { "yes" } else { "no" }.into(),
        "log_length" => format!("{:.0} m", value.exp()),
        "log_traffic" => format!("{:.0} vehicles a day", value.exp()),
        "log_days_since_repair" => {
            let days = value.exp();
            if days >= 3.0 * 365.0 - 1.0 {
                "none in three years".into()
            } else {
                format!("{days:.0} days")
            }
        }
        "surface_age_years" => format!("{value:.1} years"),
        "roughness_mean_28d" | "roughness_max_28d" => format!("{value:.1} m/km"),
        "roughness_trend_90d" => format!("{value:+.2} m/km"),
        "season_sin" | "season_cos" => "season".into(),
        "roughness_x_freeze_thaw" => format!("{value:.0}"),
        _ => format!("{value:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_with(values: impl Iterator<Item = f64>) -> Vec<Row> {
        values
            .map(|v| {
                let mut row = [0.0; FEATURE_COUNT];
                row[0] = v;
                row
            })
            .collect()
    }

    #[test]
    fn a_split_between_bin_numbers_sends_every_value_the_way_its_bin_went() {
        // Skewed values with ties, as counts and ages are.
        let rows = rows_with((0..5_000).map(|i| f64::from((i * i) % 97) / 7.0));
        let bins = Bins::fit(&rows);
        assert!(bins.cuts[0].len() < MAX_BINS, "a bin number fits in a byte");
        assert!(bins.cuts[0].windows(2).all(|w| w[0] < w[1]), "cuts rise");
        // The tree splits between two bin numbers it saw, so below the last bin.
        let last_bin = bins.cuts[0].len() as u32;
        for split in (0..2 * last_bin).map(|k| f64::from(k) / 2.0) {
            let threshold = bins.threshold(0, split);
            for row in &rows {
                let bin = f64::from(bins.apply(row)[0]);
                assert_eq!(
                    bin <= split,
                    row[0] < threshold,
                    "value {} in bin {bin}, split {split}, threshold {threshold}",
                    row[0]
                );
            }
        }
    }

    #[test]
    fn a_feature_with_one_value_has_one_bin() {
        let rows = rows_with(std::iter::repeat_n(3.0, 100));
        let bins = Bins::fit(&rows);
        assert_eq!(bins.apply(&rows[0])[0], bins.apply(&rows[99])[0]);
        assert!(
            bins.cuts[1].len() <= 1,
            "an all-zero feature: {:?}",
            bins.cuts[1]
        );
    }
}
