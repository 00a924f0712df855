//! Reads a histogram off the daemon's `/metrics`, so that a table can say
//! what a latency was made of (how long SQLite's batched writer kept its
//! jobs waiting) from the daemon's own account of it.

use super::BResult;

/// A histogram's cumulative buckets: (upper bound in seconds, count).
#[derive(Debug, Clone, Default)]
pub struct Buckets(Vec<(f64, f64)>);

/// The buckets of `name` (no labels) as the daemon at `base` counts them now.
pub async fn buckets(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
) -> BResult<Buckets> {
    let text = client
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(parse(&text, name))
}

fn parse(text: &str, name: &str) -> Buckets {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((le, count)) = rest.split_once("\"} ") else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::NAN)
        };
        if let Ok(count) = count.trim().parse::<f64>() {
            out.push((le, count));
        }
    }
    Buckets(out)
}

/// Of the observations made between `before` and `after`: how many, and
/// the bucket bound that 99% of them are under, in ms ("-" when none,
/// "> N" when past the last finite bound).
pub fn p99_between(before: &Buckets, after: &Buckets) -> (u64, String) {
    let delta: Vec<(f64, f64)> = after
        .0
        .iter()
        .map(|&(le, n)| {
            let was = before
                .0
                .iter()
                .find(|b| b.0 == le || (b.0.is_infinite() && le.is_infinite()))
                .map_or(0.0, |b| b.1);
            (le, n - was)
        })
        .collect();
    let total = delta.last().map_or(0.0, |d| d.1);
    if total <= 0.0 {
        return (0, "-".into());
    }
    let mut last_finite = 0.0;
    for (le, n) in &delta {
        if *n >= total * 0.99 {
            return (
                total as u64,
                if le.is_finite() {
                    format!("≤ {}", le * 1000.0)
                } else {
                    format!("> {}", last_finite * 1000.0)
                },
            );
        }
        if le.is_finite() {
            last_finite = *le;
        }
    }
    (total as u64, "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_is_the_bound_of_the_bucket_that_holds_it() {
        let text = |a: u32, b: u32, c: u32| {
            format!(
                "# TYPE x histogram\nx_bucket{{le=\"0.001\"}} {a}\nx_bucket{{le=\"0.01\"}} {b}\nx_bucket{{le=\"+Inf\"}} {c}\nx_count {c}\n"
            )
        };
        let before = parse(&text(10, 10, 10), "x");
        // 100 more: 50 under 1 ms, 49 more under 10 ms, one past it.
        let after = parse(&text(60, 109, 110), "x");
        assert_eq!(p99_between(&before, &after), (100, "≤ 10".into()));
        let after = parse(&text(60, 100, 110), "x");
        assert_eq!(p99_between(&before, &after), (100, "> 10".into()));
        assert_eq!(p99_between(&before, &before), (0, "-".into()));
    }
}
