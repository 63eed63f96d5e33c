//! Ranking and calibration metrics linfa does not have: ROC-AUC, PR-AUC (average
//! precision), Brier score, expected calibration error, and precision, recall and lift
//! in the top share of segments (by count or by road length).

/// Area under the ROC curve: the chance a random positive scores above a random
/// negative (ties count half). None when there are no positives or no negatives.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let order = by_score(scores, labels, |a, b| a.total_cmp(b));
    // Average ranks over ties, then the Mann–Whitney U statistic.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && order[j + 1].0 == order[i].0 {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|(_, l)| *l).count() as f64 * average_rank;
        i = j + 1;
    }
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    (positives > 0.0 && negatives > 0.0)
        .then(|| (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Average precision: the mean of the precision at each positive, ranked by score
/// (the step-wise area under the precision–recall curve, as scikit-learn computes it).
pub fn pr_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let order = by_score(scores, labels, |a, b| b.total_cmp(a));
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 {
        return None;
    }
    let (mut hits, mut sum) = (0usize, 0.0);
    let mut i = 0;
    while i < order.len() {
        // Tied scores enter together.
        let mut j = i;
        while j + 1 < order.len() && order[j + 1].0 == order[i].0 {
            j += 1;
        }
        let new_hits = order[i..=j].iter().filter(|(_, l)| *l).count();
        hits += new_hits;
        sum += new_hits as f64 * hits as f64 / (j + 1) as f64;
        i = j + 1;
    }
    Some(sum / positives as f64)
}

/// Each score beside its label, in `order` of scores; rows of equal scores keep their
/// order (a stable sort, as when indexes were sorted by score).
fn by_score(
    scores: &[f64],
    labels: &[bool],
    order: impl Fn(&f64, &f64) -> std::cmp::Ordering,
) -> Vec<(f64, bool)> {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_by(|a, b| order(&a.0, &b.0));
    pairs
}

/// Mean squared error of the probabilities.
pub fn brier(probabilities: &[f64], labels: &[bool]) -> f64 {
    probabilities
        .iter()
        .zip(labels)
        .map(|(p, &l)| (p - f64::from(u8::from(l))).powi(2))
        .sum::<f64>()
        / probabilities.len().max(1) as f64
}

/// Expected calibration error over `bins` equal-mass bins: the weighted mean gap
/// between the mean probability and the observed rate in each bin.
pub fn ece(probabilities: &[f64], labels: &[bool], bins: usize) -> f64 {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    let n = order.len();
    if n == 0 {
        return 0.0;
    }
    (0..bins)
        .map(|b| {
            let bin = &order[b * n / bins..(b + 1) * n / bins];
            if bin.is_empty() {
                return 0.0;
            }
            let predicted: f64 = bin.iter().map(|&i| probabilities[i]).sum::<f64>();
            let observed = bin.iter().filter(|&&i| labels[i]).count() as f64;
            (predicted - observed).abs() / n as f64
        })
        .sum()
}

/// The calibration curve: (mean probability, observed rate, rows) per equal-mass bin.
pub fn calibration_curve(
    probabilities: &[f64],
    labels: &[bool],
    bins: usize,
) -> Vec<(f64, f64, usize)> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    let n = order.len();
    (0..bins)
        .filter_map(|b| {
            let bin = &order[b * n / bins..(b + 1) * n / bins];
            (!bin.is_empty()).then(|| {
                let m = bin.len() as f64;
                (
                    bin.iter().map(|&i| probabilities[i]).sum::<f64>() / m,
                    bin.iter().filter(|&&i| labels[i]).count() as f64 / m,
                    bin.len(),
                )
            })
        })
        .collect()
}

/// Row indexes by score, highest first, ties broken by index so every ranking is
/// reproducible: one sort that every share of [`top_of`] reads.
pub fn ranked(scores: &[f64]) -> Vec<usize> {
    // Sorting the scores beside their indexes reads memory in order; sorting indexes
    // by a score looked up at each comparison does not.
    let mut pairs: Vec<(f64, usize)> = scores.iter().copied().zip(0..).collect();
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    pairs.into_iter().map(|(_, i)| i).collect()
}

/// The rows in the top `share` (0–1) of a ranking ([`ranked`]): by count, or, when
/// `lengths` is given, the highest-scored segments until their length reaches `share`
/// of the total.
pub fn top_of<'a>(order: &'a [usize], share: f64, lengths: Option<&[f64]>) -> &'a [usize] {
    let n = order.len();
    let k = match lengths {
        None => ((n as f64 * share).round() as usize)
            .clamp(1, n.max(1))
            .min(n),
        Some(lengths) => {
            let budget = lengths.iter().sum::<f64>() * share;
            let mut used = 0.0;
            // A segment is taken while the length before it is under the budget.
            order
                .iter()
                .take_while(|&&i| {
                    let fits = used < budget;
                    used += lengths[i];
                    fits
                })
                .count()
        }
    };
    &order[..k]
}

/// The rows in the top `share` (0–1) of one ranking by score (see [`top_of`]).
pub fn top(scores: &[f64], share: f64, lengths: Option<&[f64]>) -> Vec<usize> {
    top_of(&ranked(scores), share, lengths).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_one_for_a_perfect_ranking_a_half_for_ties_and_matches_a_hand_count() {
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(roc_auc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
        // Positives at 0.35 and 0.8; negatives at 0.1, 0.4, 0.9: 0.35 beats one, 0.8 two.
        let auc = roc_auc(
            &[0.1, 0.35, 0.4, 0.8, 0.9],
            &[false, true, false, true, false],
        );
        assert_eq!(auc, Some(3.0 / 6.0));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn average_precision_matches_a_hand_count() {
        // Ranked: 0.9 (+), 0.8 (-), 0.7 (+): precisions at positives 1 and 2/3.
        let ap = pr_auc(&[0.7, 0.9, 0.8], &[true, true, false]).expect("positives");
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn calibration_error_is_zero_when_rates_match_and_brier_scores_squares() {
        let probabilities = [0.25; 8];
        let labels = [true, false, false, false, true, false, false, false];
        assert!(ece(&probabilities, &labels, 2) < 1e-12);
        assert!((brier(&[1.0, 0.0], &[true, true]) - 0.5).abs() < 1e-12);
        assert!((ece(&[0.9, 0.9], &[false, false], 1) - 0.9).abs() < 1e-12);
    }

    #[test]
    fn top_share_by_count_and_by_length() {
        let scores = [0.1, 0.9, 0.5, 0.7];
        assert_eq!(top(&scores, 0.5, None), vec![1, 3]);
        assert_eq!(
            top(&scores, 0.5, Some(&[100.0, 300.0, 100.0, 100.0])),
            vec![1]
        );
    }

    #[test]
    fn every_share_read_from_one_ranking_is_what_sorting_for_it_alone_gives() {
        // Scores with many ties, so the tie-break by index matters.
        let scores: Vec<f64> = (0..500)
            .map(|i| f64::from((i * 37 % 11) as u8) / 10.0)
            .collect();
        let lengths: Vec<f64> = (0..500).map(|i| f64::from(20 + i % 7)).collect();
        let order = ranked(&scores);
        for share in [0.0, 0.01, 0.05, 0.10, 0.5, 1.0] {
            for lengths in [None, Some(lengths.as_slice())] {
                let mut alone: Vec<usize> = (0..scores.len()).collect();
                alone.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
                let taken = match lengths {
                    None => ((scores.len() as f64 * share).round() as usize).max(1),
                    Some(lengths) => {
                        let budget = lengths.iter().sum::<f64>() * share;
                        let mut before = 0.0;
                        alone
                            .iter()
                            .take_while(|&&i| {
                                let fits = before < budget;
                                before += lengths[i];
                                fits
                            })
                            .count()
                    }
                };
                assert_eq!(top_of(&order, share, lengths), &alone[..taken], "{share}");
            }
        }
        assert!(top_of(&[], 0.1, None).is_empty());
    }
}
