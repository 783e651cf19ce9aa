//! Parameters: what an experiment declares (name, unit, default, valid range), how a
//! command-line value list is parsed and checked, and the Cartesian product of the lists
//! (the sweep).

use std::fmt;

use serde_json::{Map, Value as Json};

/// The kind of value a parameter takes, with its valid range.
#[derive(Clone, Debug)]
pub enum ParamKind {
    /// A whole number in `[min, max]`.
    Int {
        /// Smallest valid value.
        min: i64,
        /// Largest valid value.
        max: i64,
    },
    /// A finite real number in `[min, max]`.
    Float {
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
    },
    /// Free text, checked by a function that says what is wrong.
    Text {
        /// Describes the valid values in `help` (e.g. `const:D | exp:MEAN`).
        syntax: &'static str,
        /// Checks one value.
        check: fn(&str) -> Result<(), String>,
    },
}

/// One parameter of an experiment.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// The name on the command line (`--NAME`), kebab-case; the typed parameter struct's
    /// field is the same name in snake_case.
    pub name: &'static str,
    /// Unit, as it appears in `help` and on axis labels (`ms`, `Mbit/s`, `probability`).
    pub unit: &'static str,
    /// What it is.
    pub help: &'static str,
    /// Value used when the command line does not give one.
    pub default: Value,
    /// Values swept when the command line does not give any, if the experiment's
    /// natural default is a sweep (e.g. the x axis of its figure); overrides `default`.
    pub default_sweep: Option<&'static str>,
    /// Type and valid range.
    pub kind: ParamKind,
}

impl ParamSpec {
    /// A whole-number parameter valid in `[min, max]`.
    pub fn int(name: &'static str, unit: &'static str, default: i64, min: i64, max: i64) -> Self {
        ParamSpec {
            name,
            unit,
            help: "",
            default: Value::Int(default),
            default_sweep: None,
            kind: ParamKind::Int { min, max },
        }
    }

    /// A real-number parameter valid in `[min, max]`.
    pub fn float(name: &'static str, unit: &'static str, default: f64, min: f64, max: f64) -> Self {
        ParamSpec {
            name,
            unit,
            help: "",
            default: Value::Float(default),
            default_sweep: None,
            kind: ParamKind::Float { min, max },
        }
    }

    /// A text parameter; `check` says why a value is invalid.
    pub fn text(
        name: &'static str,
        default: &'static str,
        syntax: &'static str,
        check: fn(&str) -> Result<(), String>,
    ) -> Self {
        ParamSpec {
            name,
            unit: "",
            help: "",
            default: Value::Text(default.to_string()),
            default_sweep: None,
            kind: ParamKind::Text { syntax, check },
        }
    }

    /// Sets the description.
    pub fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }

    /// Sweeps these values (a list as on the command line) when none are given.
    pub fn sweep_by_default(mut self, values: &'static str) -> Self {
        self.default_sweep = Some(values);
        self
    }

    /// The default as `help` shows it: the value, or the list swept.
    pub fn default_text(&self) -> String {
        self.default_sweep
            .map_or_else(|| self.default.to_string(), str::to_string)
    }

    /// The valid range as people write it: `[0, 1]`, `≥ 1`, or the text syntax.
    pub fn range(&self) -> String {
        match &self.kind {
            ParamKind::Int { min, max } if *max == i64::MAX => format!("≥ {min}"),
            ParamKind::Int { min, max } => format!("[{min}, {max}]"),
            ParamKind::Float { min, max } if max.is_infinite() => format!("≥ {min}"),
            ParamKind::Float { min, max } => format!("[{min}, {max}]"),
            ParamKind::Text { syntax, .. } => syntax.to_string(),
        }
    }

    /// The axis label: the name with its unit.
    pub fn label(&self) -> String {
        if self.unit.is_empty() || self.unit == self.name {
            self.name.to_string()
        } else {
            format!("{} ({})", self.name, self.unit)
        }
    }

    /// Parses and checks one value.
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        let text = text.trim();
        let value = match &self.kind {
            ParamKind::Int { min, max } => {
                let v: i64 = text
                    .parse()
                    .map_err(|_| format!("'{text}' is not a whole number"))?;
                if v < *min || v > *max {
                    return Err(format!("{v} is out of range {}", self.range()));
                }
                Value::Int(v)
            }
            ParamKind::Float { min, max } => {
                let v: f64 = text
                    .parse()
                    .map_err(|_| format!("'{text}' is not a number"))?;
                if !v.is_finite() {
                    return Err(format!("{text} is not a finite number"));
                }
                if v < *min || v > *max {
                    return Err(format!("{v} is out of range {}", self.range()));
                }
                Value::Float(v)
            }
            ParamKind::Text { check, .. } => {
                check(text)?;
                Value::Text(text.to_string())
            }
        };
        Ok(value)
    }

    /// Parses a comma-separated list; a number parameter also takes `A..B:+S`
    /// (arithmetic) or `A..B:xF` (geometric) ranges, both ends included.
    pub fn parse_list(&self, text: &str) -> Result<Vec<Value>, String> {
        let mut values = Vec::new();
        for item in text.split(',') {
            if item.trim().is_empty() {
                return Err("an empty item in the list".into());
            }
            match (&self.kind, item.split_once("..")) {
                (ParamKind::Text { .. }, _) | (_, None) => values.push(self.parse(item)?),
                (_, Some((from, rest))) => values.extend(self.parse_range(from, rest)?),
            }
        }
        let mut seen = Vec::new();
        for v in &values {
            if seen.contains(&v) {
                return Err(format!("{v} is listed twice"));
            }
            seen.push(v);
        }
        Ok(values)
    }

    fn parse_range(&self, from: &str, rest: &str) -> Result<Vec<Value>, String> {
        const LIMIT: usize = 10_000;
        let (to, step) = rest.split_once(':').ok_or_else(|| {
            format!("range '{from}..{rest}' needs a step: A..B:+S (add S) or A..B:xF (times F)")
        })?;
        let number = |s: &str| -> Result<f64, String> {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("'{s}' in a range is not a number"))
        };
        let (a, b) = (number(from)?, number(to)?);
        if a > b {
            return Err(format!("range {from}..{to} runs backwards"));
        }
        let step = step.trim();
        let next: Box<dyn Fn(f64) -> f64> = if let Some(s) = step.strip_prefix('+') {
            let s = number(s)?;
            if s <= 0.0 {
                return Err("a range's step must be positive".into());
            }
            Box::new(move |v| v + s)
        } else if let Some(f) = step.strip_prefix('x') {
            let f = number(f)?;
            if f <= 1.0 || a <= 0.0 {
                return Err("a geometric range needs a factor above 1 and a positive start".into());
            }
            Box::new(move |v| v * f)
        } else {
            return Err(format!(
                "range step '{step}' must be +S (add S) or xF (times F)"
            ));
        };
        let mut out = Vec::new();
        let mut v = a;
        // Tolerate rounding at the end: 0.1..0.3:+0.1 includes 0.3.
        while v <= b * (1.0 + 1e-9) + 1e-12 {
            let text = match self.kind {
                ParamKind::Int { .. } => format!("{}", v.round()),
                _ => format!("{}", (v * 1e9).round() / 1e9),
            };
            out.push(self.parse(&text)?);
            if out.len() > LIMIT {
                return Err(format!("range {from}..{to} has more than {LIMIT} values"));
            }
            v = next(v);
        }
        Ok(out)
    }
}

/// One parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A whole number.
    Int(i64),
    /// A real number.
    Float(f64),
    /// Text.
    Text(String),
}

impl Value {
    /// The value as a number, for axes (text has none).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::Float(v) => Some(*v),
            Value::Text(_) => None,
        }
    }

    fn to_json(&self) -> Json {
        match self {
            Value::Int(v) => Json::from(*v),
            Value::Float(v) => Json::from(*v),
            Value::Text(v) => Json::from(v.clone()),
        }
    }
}

impl fmt::Display for Value {
    /// As written in CSVs: integers plainly, reals in their shortest exact form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(v) => f.write_str(v),
        }
    }
}

/// One point of a sweep: a value for every parameter, in the experiment's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// `(name, value)` for every parameter.
    pub values: Vec<(&'static str, Value)>,
}

impl Point {
    /// The value of the parameter `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// As a JSON object whose keys are the snake_case field names, for serde.
    pub fn to_json(&self) -> Json {
        let map: Map<String, Json> = self
            .values
            .iter()
            .map(|(n, v)| (n.replace('-', "_"), v.to_json()))
            .collect();
        Json::Object(map)
    }

    /// `name=value` for the named parameters, e.g. for a log line or a legend.
    pub fn describe(&self, names: &[&str]) -> String {
        let parts: Vec<String> = self
            .values
            .iter()
            .filter(|(n, _)| names.contains(n))
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        if parts.is_empty() {
            "defaults".into()
        } else {
            parts.join(" ")
        }
    }
}

/// The values each parameter takes in a sweep.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// Per parameter, in the experiment's order: its name and the values it takes.
    pub lists: Vec<(&'static str, Vec<Value>)>,
}

impl Sweep {
    /// Every combination, the first parameter varying slowest.
    pub fn points(&self) -> Vec<Point> {
        let mut points = vec![Point { values: Vec::new() }];
        for (name, values) in &self.lists {
            let mut next = Vec::with_capacity(points.len() * values.len());
            for p in &points {
                for v in values {
                    let mut q = p.clone();
                    q.values.push((name, v.clone()));
                    next.push(q);
                }
            }
            points = next;
        }
        points
    }

    /// The parameters given more than one value.
    pub fn varying(&self) -> Vec<&'static str> {
        self.lists
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(n, _)| *n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss() -> ParamSpec {
        ParamSpec::float("loss", "probability", 0.1, 0.0, 1.0)
    }

    #[test]
    fn lists_ranges_and_bad_values() {
        assert_eq!(
            loss().parse_list("0.05,0.2").unwrap(),
            [Value::Float(0.05), Value::Float(0.2)]
        );
        assert_eq!(loss().parse_list("0..0.3:+0.1").unwrap().len(), 4);
        let nodes = ParamSpec::int("nodes", "", 8, 1, i64::MAX);
        let v = nodes.parse_list("8..16384:x2").unwrap();
        assert_eq!(v.len(), 12);
        assert_eq!(v[11], Value::Int(16384));
        assert!(
            loss()
                .parse_list("1.5")
                .unwrap_err()
                .contains("out of range [0, 1]")
        );
        assert!(nodes.parse_list("0").unwrap_err().contains("≥ 1"));
        assert!(
            nodes
                .parse_list("1.5")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(loss().parse_list("0.1,,0.2").is_err());
        assert!(loss().parse_list("0.1,0.1").unwrap_err().contains("twice"));
        assert!(loss().parse_list("nan").is_err());
        assert!(
            nodes
                .parse_list("10..1:+1")
                .unwrap_err()
                .contains("backwards")
        );
    }

    #[test]
    fn sweep_is_the_cartesian_product_first_slowest() {
        let sweep = Sweep {
            lists: vec![
                ("a", vec![Value::Int(1), Value::Int(2)]),
                ("b", vec![Value::Int(3)]),
                ("c", vec![Value::Int(4), Value::Int(5), Value::Int(6)]),
            ],
        };
        let points = sweep.points();
        assert_eq!(points.len(), 6);
        assert_eq!(points[1].describe(&["a", "c"]), "a=1 c=5");
        assert_eq!(points[3].describe(&["a", "c"]), "a=2 c=4");
        assert_eq!(sweep.varying(), ["a", "c"]);
    }
}
