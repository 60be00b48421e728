//! Percentiles of measured durations.

use std::time::Duration;

/// The `p`-th percentile (0–100, nearest rank) of `samples`, in milliseconds; 0 when empty.
pub(crate) fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    // Nearest rank: the smallest sample with at least p% of the samples at or below it.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rank within the sample count"
    )]
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * ms.len() as f64).ceil() as usize;
    ms[rank.clamp(1, ms.len()) - 1]
}
