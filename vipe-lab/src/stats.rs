//! Statistics over seeds and samples: mean, standard deviation, Student's t confidence
//! interval, nearest-rank percentiles.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean, sample standard deviation and the 95% confidence interval of the mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// How many values (non-finite values are left out).
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` with fewer than two values.
    pub std: Option<f64>,
    /// Half-width of the 95% confidence interval of the mean, from Student's t with
    /// n − 1 degrees of freedom; `None` with fewer than two values.
    pub ci95: Option<f64>,
}

impl Estimate {
    /// The estimate over the finite values of `values`, or `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let n = finite.len();
        if n == 0 {
            return None;
        }
        let mean = finite.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Some(Estimate {
                n,
                mean,
                std: None,
                ci95: None,
            });
        }
        let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = var.sqrt();
        let ci95 = t_quantile_975(n - 1) * std / (n as f64).sqrt();
        Some(Estimate {
            n,
            mean,
            std: Some(std),
            ci95: Some(ci95),
        })
    }

    /// The interval's lower end.
    pub fn lo(&self) -> Option<f64> {
        self.ci95.map(|h| self.mean - h)
    }

    /// The interval's upper end.
    pub fn hi(&self) -> Option<f64> {
        self.ci95.map(|h| self.mean + h)
    }
}

/// The 97.5% quantile of Student's t with `dof` degrees of freedom (the factor of a
/// two-sided 95% interval): 12.706 for 1, 2.776 for 4, → 1.960.
pub fn t_quantile_975(dof: usize) -> f64 {
    StudentsT::new(0.0, 1.0, dof as f64)
        .expect("dof ≥ 1 is a valid Student's t")
        .inverse_cdf(0.975)
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of values sorted ascending.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Sorts finite values ascending (non-finite ones are left out).
pub fn sorted_finite(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand: values 2, 4, 4, 4, 5, 5, 7, 9 have mean 5, sum of squared deviations
    /// 32, sample variance 32/7, s = 2.13809; t(7, 0.975) = 2.364624;
    /// half-width = 2.364624 · 2.138090 / 2.828427 = 2.364624 · 0.755929 = 1.787488.
    #[test]
    fn confidence_interval_matches_a_hand_computation() {
        let e = Estimate::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(e.n, 8);
        assert!((e.mean - 5.0).abs() < 1e-12);
        assert!((e.std.unwrap() - 2.138_089_935).abs() < 1e-8);
        assert!((e.ci95.unwrap() - 1.787_488).abs() < 1e-5, "{e:?}");
        assert!((e.lo().unwrap() - 3.212_512).abs() < 1e-5);
    }

    #[test]
    fn t_quantiles_are_the_tabulated_ones() {
        for (dof, t) in [
            (1, 12.706),
            (2, 4.303),
            (3, 3.182),
            (4, 2.776),
            (9, 2.262),
            (30, 2.042),
        ] {
            assert!((t_quantile_975(dof) - t).abs() < 1e-3, "dof {dof}");
        }
        assert!((t_quantile_975(100_000) - 1.960).abs() < 1e-3);
    }

    #[test]
    fn single_values_and_non_finite_ones() {
        let e = Estimate::of(&[3.0, f64::NAN]).unwrap();
        assert_eq!((e.n, e.mean, e.std, e.ci95), (1, 3.0, None, None));
        assert!(Estimate::of(&[f64::NAN]).is_none());
        assert!(Estimate::of(&[]).is_none());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 1.0), Some(1.0));
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 1.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
