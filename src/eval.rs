//! Evaluation metrics for labelled sets: ROC AUC with its 95% confidence interval, average
//! precision, equal error rate and true positive rate at fixed false positive rates. Scores are
//! "higher = more likely fake"; labels are `true` for fake.
//!
//! These are the standard definitions (as in scikit-learn's `roc_auc_score`,
//! `average_precision_score` and `roc_curve`); `training/` uses scikit-learn and the parity of the
//! two is pinned by a test on a known case.

use serde::Serialize;

/// Metrics of one set of scored items.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    /// Items with a score.
    pub n: usize,
    /// Of which fake.
    pub n_fake: usize,
    /// Area under the ROC curve (ties count half); null with a single class.
    pub auc: Option<f64>,
    /// 95% confidence interval of `auc` by DeLong's method, `[low, high]` clipped to [0, 1]; null
    /// with fewer than two items of either class. It assumes independent items: frames of one
    /// video are not, and their interval would be too narrow.
    pub auc_ci95: Option<[f64; 2]>,
    /// Average precision (area under the precision-recall curve, step-wise).
    pub ap: Option<f64>,
    /// Equal error rate: where false positive rate equals false negative rate.
    pub eer: Option<f64>,
    /// True positive rate at 1% false positive rate.
    pub tpr_at_fpr_1: Option<f64>,
    /// True positive rate at 5% false positive rate.
    pub tpr_at_fpr_5: Option<f64>,
    /// False positive rate at the decision threshold.
    pub fpr_at_threshold: Option<f64>,
    /// True positive rate at the decision threshold.
    pub tpr_at_threshold: Option<f64>,
}

/// Computes all metrics for `(score, is_fake)` pairs at a decision `threshold`.
pub fn metrics(items: &[(f32, bool)], threshold: f32) -> Metrics {
    let n_fake = items.iter().filter(|i| i.1).count();
    let n_real = items.len() - n_fake;
    let at = |pred: &dyn Fn(&(f32, bool)) -> bool, fake: bool, total: usize| {
        (total > 0)
            .then(|| items.iter().filter(|i| i.1 == fake && pred(i)).count() as f64 / total as f64)
    };
    let both = n_fake > 0 && n_real > 0;
    let roc = if both { roc_curve(items) } else { Vec::new() };
    Metrics {
        n: items.len(),
        n_fake,
        auc: both.then(|| auc(items)),
        auc_ci95: (n_fake > 1 && n_real > 1).then(|| auc_ci95(items)),
        ap: both.then(|| average_precision(items)),
        eer: both.then(|| eer(&roc)),
        tpr_at_fpr_1: both.then(|| tpr_at_fpr(&roc, 0.01)),
        tpr_at_fpr_5: both.then(|| tpr_at_fpr(&roc, 0.05)),
        fpr_at_threshold: at(&|i| i.0 >= threshold, false, n_real),
        tpr_at_threshold: at(&|i| i.0 >= threshold, true, n_fake),
    }
}

/// ROC AUC by the rank-sum (Mann-Whitney) formula; tied scores count half.
pub fn auc(items: &[(f32, bool)]) -> f64 {
    let mut sorted: Vec<(f32, bool)> = items.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut i) = (0.0f64, 0usize);
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0; // ranks are 1-based
        rank_sum += avg_rank * sorted[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let n_pos = items.iter().filter(|x| x.1).count() as f64;
    let n_neg = items.len() as f64 - n_pos;
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// 95% confidence interval of the ROC AUC by DeLong's method (DeLong, DeLong & Clarke-Pearson,
/// Biometrics 1988): each fake's share of reals it outscores and each real's share of fakes that
/// outscore it (ties half), whose variances give the AUC's; normal interval, clipped to [0, 1].
/// Needs at least two items of each class.
pub fn auc_ci95(items: &[(f32, bool)]) -> [f64; 2] {
    let sorted = |fake: bool| {
        let mut v: Vec<f32> = items.iter().filter(|i| i.1 == fake).map(|i| i.0).collect();
        v.sort_by(f32::total_cmp);
        v
    };
    let (fakes, reals) = (sorted(true), sorted(false));
    // Share of `others` below `x`, ties counting half.
    let share_below = |others: &[f32], x: f32| {
        let below = others.partition_point(|&o| o < x);
        let not_above = others.partition_point(|&o| o <= x);
        (below as f64 + 0.5 * (not_above - below) as f64) / others.len() as f64
    };
    let v10: Vec<f64> = fakes.iter().map(|&x| share_below(&reals, x)).collect();
    let v01: Vec<f64> = reals
        .iter()
        .map(|&y| 1.0 - share_below(&fakes, y))
        .collect();
    let auc = v10.iter().sum::<f64>() / v10.len() as f64;
    let variance = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let se = (variance(&v10) / v10.len() as f64 + variance(&v01) / v01.len() as f64).sqrt();
    [(auc - 1.96 * se).max(0.0), (auc + 1.96 * se).min(1.0)]
}

/// (fpr, tpr) points at each distinct threshold, from the strictest down, starting at (0, 0).
fn roc_curve(items: &[(f32, bool)]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<(f32, bool)> = items.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n_pos = items.iter().filter(|x| x.1).count() as f64;
    let n_neg = items.len() as f64 - n_pos;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    let mut i = 0;
    while i < sorted.len() {
        let s = sorted[i].0;
        while i < sorted.len() && sorted[i].0 == s {
            if sorted[i].1 {
                tp += 1.0
            } else {
                fp += 1.0
            }
            i += 1;
        }
        points.push((fp / n_neg, tp / n_pos));
    }
    points
}

/// Highest TPR among operating points whose FPR does not exceed `max_fpr`.
fn tpr_at_fpr(roc: &[(f64, f64)], max_fpr: f64) -> f64 {
    roc.iter()
        .filter(|p| p.0 <= max_fpr + 1e-12)
        .map(|p| p.1)
        .fold(0.0, f64::max)
}

/// Equal error rate, interpolated between the two ROC points where FNR crosses FPR.
fn eer(roc: &[(f64, f64)]) -> f64 {
    for w in roc.windows(2) {
        let (f0, t0) = w[0];
        let (f1, t1) = w[1];
        let (d0, d1) = (1.0 - t0 - f0, 1.0 - t1 - f1);
        if d0 >= 0.0 && d1 <= 0.0 {
            let a = if (d0 - d1).abs() < 1e-12 {
                0.0
            } else {
                d0 / (d0 - d1)
            };
            return f0 + a * (f1 - f0);
        }
    }
    0.5
}

/// Average precision: sum over thresholds of (recall step) x precision.
pub fn average_precision(items: &[(f32, bool)]) -> f64 {
    let roc = roc_curve(items);
    let n_pos = items.iter().filter(|x| x.1).count() as f64;
    let n_neg = items.len() as f64 - n_pos;
    let mut ap = 0.0;
    for w in roc.windows(2) {
        let (tp, fp) = (w[1].1 * n_pos, w[1].0 * n_neg);
        if tp + fp > 0.0 {
            ap += (w[1].1 - w[0].1) * tp / (tp + fp);
        }
    }
    ap
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from scikit-learn 1.9:
    // y = [0, 0, 1, 1, 0, 1], s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9]
    // roc_auc_score = 0.777778, average_precision_score = 0.866667
    const ITEMS: [(f32, bool); 6] = [
        (0.1, false),
        (0.4, false),
        (0.35, true),
        (0.8, true),
        (0.4, false),
        (0.9, true),
    ];

    #[test]
    fn auc_and_ap_match_scikit_learn() {
        assert!((auc(&ITEMS) - 0.777778).abs() < 1e-5);
        assert!((average_precision(&ITEMS) - 0.866667).abs() < 1e-5);
    }

    #[test]
    fn perfect_separation() {
        let items = [(0.1, false), (0.2, false), (0.8, true), (0.9, true)];
        let m = metrics(&items, 0.5);
        assert_eq!(m.auc, Some(1.0));
        assert_eq!(m.eer, Some(0.0));
        assert_eq!(m.tpr_at_fpr_1, Some(1.0));
        assert_eq!(m.fpr_at_threshold, Some(0.0));
    }

    #[test]
    fn delong_interval_matches_a_worked_case() {
        // Fakes 0.9, 0.8, 0.4 against reals 0.7, 0.4, 0.1: AUC 5/6; per-fake shares 1, 1, 0.5
        // (variance 1/12), per-real shares 2/3, 5/6, 1 (variance 1/36); standard error
        // sqrt((1/12 + 1/36) / 3) = 0.19245.
        let items = [
            (0.9, true),
            (0.8, true),
            (0.4, true),
            (0.7, false),
            (0.4, false),
            (0.1, false),
        ];
        let [low, high] = auc_ci95(&items);
        assert!((low - (5.0 / 6.0 - 1.96 * 0.19245)).abs() < 1e-4, "{low}");
        assert_eq!(high, 1.0);
        let m = metrics(&items, 0.5);
        assert_eq!(m.auc_ci95, Some([low, high]));
    }

    #[test]
    fn delong_interval_narrows_with_more_items() {
        let spread = |n: usize| -> Vec<(f32, bool)> {
            (0..n)
                .flat_map(|i| {
                    let x = i as f32 / n as f32;
                    [(x, false), (x + 0.3, true)]
                })
                .collect()
        };
        let width = |items: &[(f32, bool)]| {
            let [low, high] = auc_ci95(items);
            high - low
        };
        let (small, large) = (spread(10), spread(100));
        assert!((auc(&small) - auc(&large)).abs() < 0.02);
        assert!(width(&large) < width(&small) / 2.0);
    }

    #[test]
    fn single_class_has_no_auc() {
        let m = metrics(&[(0.3, false), (0.7, false)], 0.5);
        assert_eq!(m.auc, None);
        assert_eq!(m.auc_ci95, None);
        assert_eq!(m.fpr_at_threshold, Some(0.5));
    }
}
