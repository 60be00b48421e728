//! The figures: one readable line each on stdout, one JSON object each appended to
//! `target/bench/results.jsonl` at the workspace root.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// One measured figure beside its baseline.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    /// The figure's name, `area.what` (e.g. `core.append_batched`).
    pub(crate) bench: &'static str,
    /// What we measured.
    pub(crate) value: f64,
    /// Its unit (`events/s`, `ms`).
    pub(crate) unit: &'static str,
    /// What the baseline is.
    pub(crate) baseline: String,
    /// The baseline measured in the same run, in the same unit.
    pub(crate) baseline_value: f64,
    /// The goal in words and whether it is met, when the figure has one.
    pub(crate) goal: Option<(String, bool)>,
    /// How it was measured.
    pub(crate) notes: String,
}

impl Figure {
    /// `value / baseline_value`: above 1 means more events/s, or more milliseconds, than the
    /// baseline.
    pub(crate) fn ratio(&self) -> f64 {
        if self.baseline_value == 0.0 {
            0.0
        } else {
            self.value / self.baseline_value
        }
    }

    /// `goal …: met` / `goal …: NOT met`, or nothing.
    fn verdict(&self) -> String {
        match &self.goal {
            Some((goal, true)) => format!("goal {goal}: met"),
            Some((goal, false)) => format!("goal {goal}: NOT met"),
            None => String::new(),
        }
    }

    fn decimals(&self) -> u32 {
        if self.unit == "ms" { 3 } else { 0 }
    }
}

/// Where the figures go.
#[derive(Debug)]
pub(crate) struct Report {
    path: PathBuf,
    file: File,
    ts: String,
    figures: Vec<Figure>,
}

/// The workspace root: the parent of this crate's directory when it still exists (a build
/// from the source tree), else the current directory.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    match manifest.parent() {
        Some(root) if root.join("Cargo.toml").is_file() => root.to_path_buf(),
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

/// `x` rounded to `decimals`, as a JSON number (an integer when `decimals` is 0).
fn number(x: f64, decimals: u32) -> Value {
    if decimals == 0 && x.is_finite() && x.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation, reason = "rounded and range-checked")]
        return json!(x.round() as i64);
    }
    let scale = 10f64.powi(i32::try_from(decimals).unwrap_or(3));
    json!((x * scale).round() / scale)
}

impl Report {
    /// Opens (creating it if needed) `target/bench/results.jsonl` for appending.
    pub(crate) fn open() -> std::io::Result<Self> {
        let dir = workspace_root().join("target").join("bench");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("results.jsonl");
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            file,
            ts: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            figures: Vec::new(),
        })
    }

    /// Prints the figure and appends it to the results file.
    #[allow(clippy::print_stdout, reason = "a benchmark's report is its stdout")]
    pub(crate) fn record(&mut self, figure: Figure) -> std::io::Result<()> {
        let d = figure.decimals();
        let ratio = figure.ratio();
        let mut object = Map::new();
        object.insert("bench".into(), json!(figure.bench));
        object.insert("value".into(), number(figure.value, d));
        object.insert("unit".into(), json!(figure.unit));
        object.insert("baseline".into(), json!(figure.baseline));
        object.insert("baseline_value".into(), number(figure.baseline_value, d));
        object.insert("ratio".into(), number(ratio, 3));
        object.insert("ts".into(), json!(self.ts));
        let verdict = figure.verdict();
        let notes = if verdict.is_empty() {
            figure.notes.clone()
        } else {
            format!("{verdict}; {}", figure.notes)
        };
        object.insert("notes".into(), json!(notes));
        writeln!(self.file, "{}", Value::Object(object))?;
        self.file.flush()?;

        let prec = usize::try_from(d).unwrap_or(3);
        println!(
            "{:<32} {:>10.prec$} {:<8} baseline {:>10.prec$} ({})  ratio {:.3}  {}",
            figure.bench,
            figure.value,
            figure.unit,
            figure.baseline_value,
            figure.baseline,
            ratio,
            figure.verdict(),
        );
        self.figures.push(figure);
        Ok(())
    }

    /// Says where the figures went.
    #[allow(clippy::print_stdout, reason = "a benchmark's report is its stdout")]
    pub(crate) fn finish(&self) {
        let missed = self
            .figures
            .iter()
            .filter(|f| matches!(f.goal, Some((_, false))))
            .count();
        println!(
            "\n{} figure(s) appended to {} ({} goal(s) not met)",
            self.figures.len(),
            self.path.display(),
            missed
        );
    }
}
