//! Runs Debian's `wrk` and reads its summary.

use std::path::Path;
use std::process::Command;

use super::BResult;

#[derive(Debug, Clone, Default)]
pub struct WrkResult {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Socket errors plus non-2xx/3xx answers.
    pub errors: u64,
}

pub fn run(
    script: &Path,
    url: &str,
    threads: usize,
    connections: usize,
    secs: u64,
) -> BResult<WrkResult> {
    let out = Command::new("wrk")
        .arg(format!("-t{}", threads.min(connections)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk (apt-get install wrk): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's output:\n{text}").into())
}

/// Reads "50%  1.23ms", "99% ...", "Requests/sec: ...", "N requests in",
/// "Non-2xx or 3xx responses: N" and "Socket errors: connect a, read b, write c, timeout d".
pub fn parse(text: &str) -> Option<WrkResult> {
    let mut r = WrkResult::default();
    let mut seen_rps = false;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("50%") => r.p50_ms = duration_ms(words.next()?)?,
            Some("99%") => r.p99_ms = duration_ms(words.next()?)?,
            Some("Requests/sec:") => {
                r.rps = words.next()?.parse().ok()?;
                seen_rps = true;
            }
            Some("Non-2xx") => r.errors += line.rsplit(' ').next()?.parse::<u64>().ok()?,
            Some("Socket") => {
                for part in line.split(',') {
                    r.errors += part.rsplit(' ').next()?.parse::<u64>().unwrap_or(0);
                }
            }
            Some(n) if line.contains(" requests in ") => r.requests = n.parse().ok()?,
            _ => {}
        }
    }
    seen_rps.then_some(r)
}

fn duration_ms(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_wrk_summary() {
        let text = "Running 5s test @ http://127.0.0.1:1/\n  2 threads and 64 connections\n\
  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     2.10ms  1.00ms  20.00ms   90.00%\n\
  Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     90%    2.00ms\n     99%    1.02s\n\
  51234 requests in 5.00s, 10.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n\
  Non-2xx or 3xx responses: 4\nRequests/sec:  10246.80\nTransfer/sec:      2.00MB\n";
        let r = super::parse(text).unwrap();
        assert!((r.p50_ms - 0.812).abs() < 1e-9);
        assert!((r.p99_ms - 1020.0).abs() < 1e-9);
        assert!((r.rps - 10246.8).abs() < 1e-9);
        assert_eq!(r.requests, 51234);
        assert_eq!(r.errors, 7);
    }
}
