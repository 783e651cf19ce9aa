//! Delay models of the datagram underlay: how long a datagram takes from one node to
//! another. Every model but the matrix needs no per-pair state (memory O(N) or less).
//!
//! A model is written as a spec string, e.g. for a command line:
//!
//! | spec | model |
//! |---|---|
//! | `const:10ms` | every datagram takes 10 ms |
//! | `uniform:5ms..50ms` | uniform in [5 ms, 50 ms], drawn per datagram |
//! | `exp:50ms` | exponential with mean 50 ms, per datagram (the Chord ToN paper's set-up) |
//! | `euclid:100ms` | nodes at points uniform in a [0,1000]² plane (the Pastry paper's set-up), delay proportional to distance: 1000 units = 100 ms |
//! | `matrix:king.csv` | a latency matrix in milliseconds, node `i` taking row/column `i mod n` |
//!
//! ```
//! use vipe_platforms::sim::DelayModel;
//! let exp: DelayModel = "exp:50ms".parse().unwrap();
//! assert_eq!(exp.to_string(), "exp:50ms");
//! let err = "exp:fifty".parse::<DelayModel>().unwrap_err();
//! assert!(err.to_string().contains("e.g. 50ms"), "{err}");
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use vipe_rt::{Duration, NodeRng};

/// Side of the square plane in which the Euclidean model places nodes.
pub const PLANE_SIDE: f64 = 1000.0;

/// How long a datagram takes between two nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum DelayModel {
    /// The same delay for every datagram.
    Constant(Duration),
    /// Uniform in `[min, max]`, drawn per datagram.
    Uniform {
        /// Shortest delay.
        min: Duration,
        /// Longest delay.
        max: Duration,
    },
    /// Exponentially distributed with this mean, drawn per datagram.
    Exponential {
        /// The mean delay.
        mean: Duration,
    },
    /// Each node sits at a point drawn uniformly in a `[0, 1000]²` plane (from the
    /// simulation's seed and the node's id, so nothing is stored per node); the delay is
    /// the distance times `per_side / 1000`.
    Euclidean {
        /// Delay across a distance of one side of the plane (1000 units).
        per_side: Duration,
    },
    /// A measured latency matrix; node `i` takes row and column `i mod n`.
    Matrix(Arc<LatencyMatrix>),
}

/// `x.round() as u64`, bit for bit (half away from zero; negative and NaN give 0, beyond
/// `u64::MAX` saturates), without the `round` library call that x86-64's baseline
/// instruction set needs for it: this runs once per datagram on the underlay.
#[inline]
pub(crate) fn round_to_u64(x: f64) -> u64 {
    // Below one half (negative values and NaN included) it is 0; from 2^52 up every f64
    // is an integer already (and `as` saturates past u64::MAX). Both branches predict well.
    if x.is_nan() || x < 0.5 {
        return 0;
    }
    if x >= 4_503_599_627_370_496.0 {
        return x as u64;
    }
    // Signed conversions both ways (one instruction each; x86-64 has no unsigned ones).
    let whole = x as i64; // truncates
    // Exact (both are below 2^52), and branch-free: whether the fraction is ≥ ½ is a coin
    // toss for random delays, which a branch would mispredict half the time.
    (whole + i64::from(x - whole as f64 >= 0.5)) as u64
}

impl DelayModel {
    /// The delay of one datagram from node `src` to node `dst`. `seed` places the nodes
    /// of the Euclidean model; `rng` draws the random models.
    #[inline]
    pub fn sample(&self, src: u32, dst: u32, seed: u64, rng: &mut NodeRng) -> Duration {
        match self {
            DelayModel::Constant(d) => *d,
            DelayModel::Uniform { min, max } => {
                let (a, b) = (min.as_nanos(), max.as_nanos());
                Duration::from_nanos(a + rng.below(0, b - a + 1))
            }
            DelayModel::Exponential { mean } => {
                // A ziggurat (rand_distr's `Exp1`): exact, and ~3× cheaper than the
                // inverse transform's `ln` (which was a tenth of a 10^3-node run).
                let x: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, rng);
                Duration::from_nanos(round_to_u64(x * mean.as_nanos() as f64))
            }
            DelayModel::Euclidean { per_side } => {
                let (ax, ay) = coordinates(seed, src);
                let (bx, by) = coordinates(seed, dst);
                let distance = ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt();
                Duration::from_nanos(round_to_u64(
                    distance / PLANE_SIDE * per_side.as_nanos() as f64,
                ))
            }
            DelayModel::Matrix(m) => m.get(src, dst),
        }
    }

    /// Checks the model, saying what to change.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            DelayModel::Uniform { min, max } if min > max => Err(format!(
                "uniform delay needs min <= max, got {min}..{max}; swap them"
            )),
            _ => Ok(()),
        }
    }
}

/// Where node `node` sits in the Euclidean model's plane: uniform in `[0, 1000]²`,
/// a pure function of the seed and the id.
pub fn coordinates(seed: u64, node: u32) -> (f64, f64) {
    let h = super::mix(seed ^ 0x5eed_c00d, u64::from(node));
    let unit = |bits: u64| (bits >> 11) as f64 / (1u64 << 53) as f64;
    (unit(h) * PLANE_SIDE, unit(super::mix(h, 1)) * PLANE_SIDE)
}

/// A square latency matrix, in microseconds.
#[derive(Clone, PartialEq)]
pub struct LatencyMatrix {
    n: usize,
    micros: Vec<u32>,
    source: PathBuf,
}

impl fmt::Debug for LatencyMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyMatrix")
            .field("n", &self.n)
            .field("source", &self.source)
            .finish()
    }
}

impl LatencyMatrix {
    /// Reads a CSV file: `n` lines of `n` comma-separated delays in milliseconds
    /// (decimals allowed; blank lines and lines starting with `#` are skipped).
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self, DelaySpecError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            DelaySpecError(format!(
                "cannot read latency matrix {}: {e}; give the path of a CSV file",
                path.display()
            ))
        })?;
        Self::parse(&text, path)
    }

    /// Parses CSV text as [`from_csv`](Self::from_csv) does; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Self, DelaySpecError> {
        let mut micros = Vec::new();
        let mut n = 0;
        let mut rows = 0;
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("{} line {}", source.display(), lineno + 1);
            let before = micros.len();
            for cell in line.split(',') {
                let cell = cell.trim();
                let ms: f64 = cell.parse().map_err(|_| {
                    DelaySpecError(format!(
                        "{}: `{cell}` is not a number of milliseconds",
                        at()
                    ))
                })?;
                if !(0.0..4.0e6).contains(&ms) {
                    return Err(DelaySpecError(format!(
                        "{}: delay {ms} ms is out of range; give milliseconds in [0, 4000000)",
                        at()
                    )));
                }
                micros.push((ms * 1000.0).round() as u32);
            }
            let width = micros.len() - before;
            if rows == 0 {
                n = width;
            } else if width != n {
                return Err(DelaySpecError(format!(
                    "{}: {width} columns, but the first row has {n}; the matrix must be square",
                    at()
                )));
            }
            rows += 1;
        }
        if rows == 0 || rows != n {
            return Err(DelaySpecError(format!(
                "{}: {rows} rows of {n} columns; a latency matrix must be n rows of n values",
                source.display()
            )));
        }
        Ok(LatencyMatrix {
            n,
            micros,
            source: source.to_owned(),
        })
    }

    /// Number of rows (and columns).
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the matrix is empty (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The delay from `src` to `dst` (each taken modulo the size).
    #[inline]
    pub fn get(&self, src: u32, dst: u32) -> Duration {
        let (i, j) = (src as usize % self.n, dst as usize % self.n);
        Duration::from_micros(u64::from(self.micros[i * self.n + j]))
    }
}

/// A delay spec that could not be read; the message says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelaySpecError(pub String);

impl fmt::Display for DelaySpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DelaySpecError {}

const SPEC_FORMS: &str =
    "const:10ms, uniform:5ms..50ms, exp:50ms, euclid:100ms or matrix:path/to/latencies.csv";

/// Parses a duration like `50ms`, `1.5s`, `200us`, `100ns` (`µs` also accepted).
pub fn parse_duration(text: &str) -> Result<Duration, DelaySpecError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "" => {
            return Err(DelaySpecError(format!(
                "`{text}` has no unit; write it with one, e.g. 50ms, 1.5s, 200us or 100ns"
            )));
        }
        other => {
            return Err(DelaySpecError(format!(
                "`{other}` in `{text}` is not a time unit; use ns, us, ms or s (e.g. 50ms)"
            )));
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        DelaySpecError(format!(
            "`{text}` is not a duration; write a number and a unit, e.g. 50ms"
        ))
    })?;
    let nanos = value * scale;
    if !nanos.is_finite() || nanos >= u64::MAX as f64 {
        return Err(DelaySpecError(format!("`{text}` is too long a duration")));
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

impl FromStr for DelayModel {
    type Err = DelaySpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let Some((kind, arg)) = spec.split_once(':') else {
            return Err(DelaySpecError(format!(
                "latency spec `{spec}` has no model name; write one of {SPEC_FORMS}"
            )));
        };
        let in_spec = |e: DelaySpecError| DelaySpecError(format!("in `{spec}`: {}", e.0));
        let model = match kind.trim() {
            "const" | "constant" => DelayModel::Constant(parse_duration(arg).map_err(in_spec)?),
            "uniform" => {
                let Some((a, b)) = arg.split_once("..") else {
                    return Err(DelaySpecError(format!(
                        "`{spec}`: a uniform delay needs a range, e.g. uniform:5ms..50ms"
                    )));
                };
                DelayModel::Uniform {
                    min: parse_duration(a).map_err(in_spec)?,
                    max: parse_duration(b).map_err(in_spec)?,
                }
            }
            "exp" | "exponential" => DelayModel::Exponential {
                mean: parse_duration(arg).map_err(in_spec)?,
            },
            "euclid" | "euclidean" => DelayModel::Euclidean {
                per_side: parse_duration(arg).map_err(in_spec)?,
            },
            "matrix" => DelayModel::Matrix(Arc::new(LatencyMatrix::from_csv(arg.trim())?)),
            other => {
                return Err(DelaySpecError(format!(
                    "`{other}` is not a delay model; write one of {SPEC_FORMS}"
                )));
            }
        };
        model.validate().map_err(DelaySpecError)?;
        Ok(model)
    }
}

impl fmt::Display for DelayModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DelayModel::Constant(d) => write!(f, "const:{d}"),
            DelayModel::Uniform { min, max } => write!(f, "uniform:{min}..{max}"),
            DelayModel::Exponential { mean } => write!(f, "exp:{mean}"),
            DelayModel::Euclidean { per_side } => write!(f, "euclid:{per_side}"),
            DelayModel::Matrix(m) => write!(f, "matrix:{}", m.source.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAWS: usize = 200_000;

    fn draws(model: &DelayModel) -> Vec<f64> {
        let mut rng = NodeRng::seed_from_u64(9);
        (0..DRAWS)
            .map(|i| {
                let (a, b) = ((i % 997) as u32, (i % 991) as u32 + 1000);
                model.sample(a, b, 42, &mut rng).as_nanos() as f64 / 1e6
            })
            .collect()
    }

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn constant_is_constant() {
        let xs = draws(&"const:10ms".parse().unwrap());
        assert!(xs.iter().all(|&x| x == 10.0));
    }

    #[test]
    fn uniform_has_its_mean_bounds_and_flat_variance() {
        let xs = draws(&"uniform:5ms..50ms".parse().unwrap());
        let (mean, var) = mean_var(&xs);
        assert!((mean - 27.5).abs() < 0.15, "mean {mean}");
        // Flat on [a, b]: variance (b - a)^2 / 12 = 168.75.
        assert!((var - 168.75).abs() < 3.0, "variance {var}");
        assert!(xs.iter().all(|&x| (5.0..=50.0).contains(&x)));
        // Each tenth of the range holds a tenth of the draws.
        for decile in 0..10 {
            let lo = 5.0 + 4.5 * decile as f64;
            let share = xs.iter().filter(|&&x| x >= lo && x < lo + 4.5).count() as f64;
            assert!(
                (share / DRAWS as f64 - 0.1).abs() < 0.005,
                "decile {decile}"
            );
        }
    }

    #[test]
    fn exponential_has_its_mean_and_shape() {
        let xs = draws(&"exp:50ms".parse().unwrap());
        let (mean, var) = mean_var(&xs);
        // Standard error of the mean: 50 / sqrt(200000) = 0.11 ms.
        assert!((mean - 50.0).abs() < 0.5, "mean {mean}");
        // Exponential: standard deviation equals the mean.
        assert!((var.sqrt() - 50.0).abs() < 1.0, "sd {}", var.sqrt());
        // Memoryless tail: P(X > mean) = 1/e, P(X > 3 mean) = e^-3.
        let above = |t: f64| xs.iter().filter(|&&x| x > t).count() as f64 / DRAWS as f64;
        assert!((above(50.0) - (-1.0f64).exp()).abs() < 0.005);
        assert!((above(150.0) - (-3.0f64).exp()).abs() < 0.002);
    }

    #[test]
    fn euclidean_follows_the_mean_distance_in_a_square() {
        // Mean distance between two uniform points in a unit square: 0.5214.
        let model: DelayModel = "euclid:100ms".parse().unwrap();
        let mut rng = NodeRng::seed_from_u64(1);
        let n = 2000u32;
        let mut sum = 0.0;
        let mut count = 0.0;
        for a in 0..n {
            for b in (a + 1..n).step_by(37) {
                let d = model.sample(a, b, 7, &mut rng);
                assert_eq!(d, model.sample(b, a, 7, &mut rng), "symmetric");
                sum += d.as_nanos() as f64 / 1e6;
                count += 1.0;
            }
        }
        let mean = sum / count;
        assert!((mean - 52.14).abs() < 0.6, "mean {mean}");
        // Triangle inequality holds (it is a metric).
        let mut d = |a, b| model.sample(a, b, 7, &mut rng).as_nanos() as i64;
        assert!(d(1, 3) <= d(1, 2) + d(2, 3) + 1);
        // Another seed moves the nodes.
        assert_ne!(coordinates(7, 5), coordinates(8, 5));
    }

    #[test]
    fn matrix_is_read_and_indexed_modulo_its_size() {
        let m = LatencyMatrix::parse("# ms\n0, 10, 20\n10,0,5.5\n20,5.5,0\n", Path::new("t.csv"))
            .unwrap();
        assert_eq!(m.len(), 3);
        let model = DelayModel::Matrix(Arc::new(m));
        let mut rng = NodeRng::seed_from_u64(0);
        assert_eq!(model.sample(0, 2, 0, &mut rng), Duration::from_millis(20));
        assert_eq!(model.sample(4, 5, 0, &mut rng), Duration::from_micros(5500));
        let err = LatencyMatrix::parse("1,2\n3\n", Path::new("bad.csv")).unwrap_err();
        assert!(
            err.0.contains("bad.csv line 2") && err.0.contains("square"),
            "{err}"
        );
        let err = LatencyMatrix::parse("1,x\n", Path::new("bad.csv")).unwrap_err();
        assert!(err.0.contains("`x`"), "{err}");
    }

    #[test]
    fn specs_round_trip_and_bad_ones_say_what_to_write() {
        for spec in [
            "const:10ms",
            "uniform:5ms..50ms",
            "exp:50ms",
            "euclid:100ms",
        ] {
            let model: DelayModel = spec.parse().unwrap();
            assert_eq!(model.to_string(), spec);
        }
        assert_eq!(
            "exp:1.5s".parse::<DelayModel>().unwrap(),
            DelayModel::Exponential {
                mean: Duration::from_millis(1500)
            }
        );
        for (bad, hint) in [
            ("50ms", "no model name"),
            ("gauss:5ms", "not a delay model"),
            ("exp:50", "no unit"),
            ("exp:50 parsecs", "not a time unit"),
            ("uniform:5ms", "needs a range"),
            ("uniform:50ms..5ms", "min <= max"),
            ("matrix:/nonexistent.csv", "cannot read latency matrix"),
        ] {
            let err = bad.parse::<DelayModel>().unwrap_err().to_string();
            assert!(err.contains(hint), "{bad}: {err}");
        }
    }
    #[test]
    fn round_to_u64_matches_round_then_cast() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -0.5,
            -0.7,
            0.49999999999999994,
            4503599627370495.5,
            4503599627370496.0,
            9007199254740993.0,
            1e19,
            1.9e19,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
        ];
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Random bit patterns cover every exponent; random scaled draws the usual range.
            values.push(f64::from_bits(state));
            values.push((state >> 11) as f64 / (1u64 << 53) as f64 * 1e9);
            values.push((state >> 40) as f64 + 0.5);
        }
        for x in values {
            assert_eq!(
                round_to_u64(x),
                x.round() as u64,
                "{x:e} ({:#x})",
                x.to_bits()
            );
        }
    }
}
