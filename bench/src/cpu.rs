//! CPU time, read from Linux's `/proc`: how busy the machine's cores were over a figure's run,
//! and how much of that the processes of each name spent (`keel-bench` itself, PostgreSQL's
//! backends, `redis-server`). A figure that is bound by the machine rather than by the code says
//! so with these: the work's CPU seconds divided by the cores is the least time it can take.
//!
//! Times in `/proc` count in `USER_HZ` ticks, 100 per second on every Linux. Where `/proc` is
//! missing the readings are empty, and [`CpuUse::describe`] says so.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// `USER_HZ`: the ticks per second of `/proc/stat` and `/proc/<pid>/stat`.
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading: the machine's busy ticks and each process's command and ticks.
#[derive(Debug)]
struct Reading {
    busy: u64,
    by_process: HashMap<u32, (String, u64)>,
}

impl Reading {
    fn now() -> Self {
        Self {
            busy: machine_busy().unwrap_or(0),
            by_process: by_process(),
        }
    }
}

/// A meter started before a piece of work; [`CpuMeter::stop`] gives what the work cost.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    started: Instant,
    start: Reading,
}

impl CpuMeter {
    /// Reads the counters now.
    pub(crate) fn start() -> Self {
        Self {
            start: Reading::now(),
            started: Instant::now(),
        }
    }

    /// The CPU spent since [`CpuMeter::start`].
    pub(crate) fn stop(self) -> CpuUse {
        CpuUse::between(&self.start, &Reading::now(), self.started.elapsed())
    }
}

/// Readings taken every so often on a thread of its own, for a piece of work whose start and
/// end are only known afterwards (another process reports them).
#[derive(Debug)]
pub(crate) struct CpuSampler {
    samples: Arc<Mutex<Vec<(SystemTime, Reading)>>>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl CpuSampler {
    /// Starts reading every `every`.
    pub(crate) fn start(every: Duration) -> Self {
        let samples = Arc::new(Mutex::new(vec![(SystemTime::now(), Reading::now())]));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (samples, stop) = (Arc::clone(&samples), Arc::clone(&stop));
            move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(every);
                    let reading = (SystemTime::now(), Reading::now());
                    samples
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(reading);
                }
            }
        });
        Self {
            samples,
            stop,
            thread,
        }
    }

    /// Stops reading; returns what was read.
    pub(crate) fn finish(self) -> CpuTimeline {
        self.stop.store(true, Ordering::Relaxed);
        // the thread only sleeps and reads /proc; it cannot have panicked but by a bug of ours
        let _ = self.thread.join();
        let samples =
            std::mem::take(&mut *self.samples.lock().unwrap_or_else(PoisonError::into_inner));
        CpuTimeline { samples }
    }
}

/// What a [`CpuSampler`] read.
#[derive(Debug)]
pub(crate) struct CpuTimeline {
    samples: Vec<(SystemTime, Reading)>,
}

impl CpuTimeline {
    /// The CPU spent from the last reading at or before `from` to the first at or after `to`
    /// (a little more than the span, by up to one sampling period at each end); `None` when
    /// the readings do not cover the span.
    pub(crate) fn between(&self, from: SystemTime, to: SystemTime) -> Option<CpuUse> {
        let (start_at, start) = self.samples.iter().rev().find(|(at, _)| *at <= from)?;
        let (end_at, end) = self.samples.iter().find(|(at, _)| *at >= to)?;
        Some(CpuUse::between(
            start,
            end,
            end_at.duration_since(*start_at).ok()?,
        ))
    }
}

/// The CPU a piece of work cost.
#[derive(Debug, Clone)]
pub(crate) struct CpuUse {
    /// How long the work took.
    pub(crate) wall: Duration,
    /// The machine's cores.
    pub(crate) cores: usize,
    /// Seconds the cores were busy, all of them together.
    pub(crate) busy: f64,
    /// Seconds each command's processes ran (this process's included, under its name).
    by_command: HashMap<String, f64>,
}

impl CpuUse {
    /// What ran between two readings: per process, its ticks at `end` less those at `start`
    /// (all of them for a process started since; one that ended meanwhile is missing), summed
    /// by the command it had at `end` (a kernel worker renames itself as it changes jobs).
    fn between(start: &Reading, end: &Reading, wall: Duration) -> Self {
        let mut by_command: HashMap<String, f64> = HashMap::new();
        for (pid, (command, ticks)) in &end.by_process {
            let before = start.by_process.get(pid).map_or(0, |(_, t)| *t);
            let ran = seconds(ticks.saturating_sub(before));
            if ran > 0.0 {
                *by_command.entry(command.clone()).or_insert(0.0) += ran;
            }
        }
        Self {
            wall,
            cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            busy: seconds(end.busy.saturating_sub(start.busy)),
            by_command,
        }
    }

    /// The commands that ran longest, longest first, with their seconds.
    pub(crate) fn top(&self, n: usize) -> Vec<(&str, f64)> {
        let mut all: Vec<(&str, f64)> = self
            .by_command
            .iter()
            .map(|(c, s)| (c.as_str(), *s))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all.truncate(n);
        all
    }

    /// Seconds the processes named `command` ran (PostgreSQL's backends are all `postgres`).
    pub(crate) fn of(&self, command: &str) -> f64 {
        self.by_command.get(command).copied().unwrap_or(0.0)
    }

    /// Seconds the processes named in `commands` ran together.
    pub(crate) fn of_all(&self, commands: &[&str]) -> f64 {
        commands.iter().map(|c| self.of(c)).sum()
    }

    /// The least time `seconds` of CPU can take on this machine: every core busy throughout.
    pub(crate) fn floor(&self, seconds: f64) -> Duration {
        #[allow(clippy::cast_precision_loss, reason = "a count of cores")]
        Duration::from_secs_f64(seconds / self.cores as f64)
    }

    /// How many of the cores were busy on average over the work.
    pub(crate) fn busy_cores(&self) -> f64 {
        self.busy / self.wall.as_secs_f64().max(1e-9)
    }

    /// Whether anything was read (Linux's `/proc` was there).
    pub(crate) fn measured(&self) -> bool {
        !self.by_command.is_empty()
    }

    /// "keel-bench 2.21 s, postgres 1.30 s, redis-server 1.19 s (4.70 s); the machine's 2 cores
    /// busy 1.85 on average", for `commands`.
    pub(crate) fn describe(&self, commands: &[&str]) -> String {
        if !self.measured() {
            return "CPU not measured (no /proc)".into();
        }
        let parts: Vec<String> = commands
            .iter()
            .map(|c| format!("{c} {:.2} s", self.of(c)))
            .collect();
        format!(
            "CPU {} ({:.2} s); the machine's {} cores busy {:.2} on average",
            parts.join(", "),
            self.of_all(commands),
            self.cores,
            self.busy_cores()
        )
    }
}

#[allow(clippy::cast_precision_loss, reason = "ticks far below 2^52")]
fn seconds(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_SECOND
}

/// The busy ticks of all cores from `/proc/stat`'s first line: everything but idle and iowait.
fn machine_busy() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    busy_ticks(stat.lines().next()?)
}

fn busy_ticks(cpu_line: &str) -> Option<u64> {
    let mut fields = cpu_line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields.map_while(|f| f.parse().ok()).collect();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    // guest time is already counted in user time
    let total: u64 = ticks.iter().take(8).sum();
    Some(total.saturating_sub(idle))
}

/// Each process's command and user + system ticks (a process's `stat` counts all its threads).
fn by_process() -> HashMap<u32, (String, u64)> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((command, ticks)) = process_ticks(&stat) {
            out.insert(pid, (label(&entry.path(), command), ticks));
        }
    }
    out
}

/// The Java processes by what they run, and the example's by its role (its processes share
/// one command name): `java` → `kafka`, `elasticsearch`, `kafka-connect`; `ecommerce saga`
/// and the like → `ecommerce saga`; the demo (the load and the probe) stays `ecommerce`.
fn label(process: &std::path::Path, command: String) -> String {
    if command != "java" && command != "ecommerce" {
        return command;
    }
    let Ok(cmdline) = std::fs::read(process.join("cmdline")) else {
        return command;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    if command == "java" {
        let runs = |class: &[u8]| args.iter().any(|a| a.starts_with(class));
        return if runs(b"kafka.Kafka") {
            "kafka".into()
        } else if runs(b"org.elasticsearch") {
            "elasticsearch".into()
        } else if runs(b"org.apache.kafka.connect") {
            "kafka-connect".into()
        } else {
            command
        };
    }
    // the supervisor starts each role as `ecommerce <role>` (a subcommand first, options in
    // the environment); the bench starts the demo with options first, so it keeps the bare name
    match args.get(1).and_then(|a| std::str::from_utf8(a).ok()) {
        Some(role) if !role.is_empty() && !role.starts_with('-') => format!("ecommerce {role}"),
        _ => command,
    }
}

/// The command and user + system ticks of one `/proc/<pid>/stat` line. The command sits in
/// parentheses and may hold spaces or parentheses itself, so the fields after it are found from
/// the last `)`.
fn process_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let command = stat.get(open + 1..close)?.to_owned();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    // after the command: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt, then utime(14) and stime(15)
    let utime: u64 = rest.nth(11)?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some((command, utime + stime))
}
