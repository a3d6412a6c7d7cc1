//! Helpers the benchmarks share: durations as people read them, percentiles, and replacing one benchmark's
//! section of BENCHMARKS.md.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

/// `1.23 s`, `45 ms`, `3.2 ms`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// The `p`-th percentile (0–100, nearest rank) of `samples`; zero when there are none.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median (mean of the two middle values for an even count).
pub fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    match s.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2,
    }
}

/// Replaces the section of BENCHMARKS.md between `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->`
/// with `body` (appending the section when it is not there yet).
pub fn write_section(name: &str, body: &str) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the tests crate lives in the workspace")?;
    let path = root.join("BENCHMARKS.md");
    let begin = format!("<!-- bench:{name}:begin -->");
    let end = format!("<!-- bench:{name}:end -->");
    let section = format!("{begin}\n{}\n{end}\n", body.trim_end());
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let updated = match (existing.find(&begin), existing.find(&end)) {
        (Some(start), Some(stop)) if stop > start => {
            let after = &existing[stop + end.len()..];
            format!("{}{}{}", &existing[..start], section.trim_end(), after)
        }
        _ if existing.trim().is_empty() => format!("# Benchmarks\n\n{section}"),
        _ => format!("{}\n\n{section}", existing.trim_end()),
    };
    std::fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench {name}: wrote {}", path.display());
    Ok(())
}

/// The number of CPU cores, for the "measured on" line.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// A benchmark's `main`: runs `body` on a multi-threaded runtime and turns its error into a message and a
/// failing exit code.
pub fn run_main<F>(name: &str, body: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = Result<()>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot build the tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(body) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench {name}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The usual benchmark in the real test environment: starts it, runs `measure` (Ctrl-C interrupts it), stops
/// the environment whatever happened, then prints the report and writes it into BENCHMARKS.md as section `name`.
pub async fn measure_in_env(
    name: &str,
    measure: impl AsyncFnOnce(&crate::TestEnv) -> Result<String>,
) -> Result<()> {
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let env = crate::TestEnv::start_until(interrupted).await?;
    let measured = tokio::select! {
        result = measure(&env) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let stopped = env.stop().await;
    let report = measured?;
    stopped?;
    println!("{report}");
    write_section(name, &report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_median() {
        let ms = |v: u64| Duration::from_millis(v);
        let s: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&s, 50.0), ms(50));
        assert_eq!(percentile(&s, 99.0), ms(99));
        assert_eq!(percentile(&s, 100.0), ms(100));
        assert_eq!(
            median(&[ms(3), ms(1), ms(2), ms(4)]),
            Duration::from_micros(2500)
        );
        assert_eq!(fmt_duration(ms(1500)), "1.50 s");
        assert_eq!(fmt_duration(Duration::from_micros(3200)), "3.2 ms");
    }
}
