//! `fenghuo bench --only emergency`, small: the scenario runs end to end
//! against the real daemon on each backend and prints its table, with every
//! answer sent through a link recorded and no request failing. Its figures
//! are the benchmark's to print, not this test's to judge (no timings here).

use std::process::Command;

/// The table's row for `backend`, by column name.
fn row(out: &str, backend: &str) -> Vec<(String, String)> {
    let cells = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut lines = out.lines().skip_while(|l| !l.starts_with("| backend"));
    let head = cells(lines.next().expect("the emergency table's header"));
    let row = lines
        .find(|l| l.starts_with(&format!("| {backend} |")))
        .unwrap_or_else(|| panic!("no {backend} row in:\n{out}"));
    head.into_iter().zip(cells(row)).collect()
}

fn cell<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
    row.iter()
        .find(|(h, _)| h == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no column {name} in {row:?}"))
}

#[test]
fn the_emergency_minute_runs_and_records_every_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("minute.md");
    let postgres = std::env::var("FENGHUO_TEST_POSTGRES").ok();
    let backends = if postgres.is_some() {
        "sqlite,postgres"
    } else {
        "sqlite"
    };
    let status = Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(["bench", "--only", "emergency", "--backends", backends])
        .args(["--emergency-contacts", "300", "--emergency-sites", "200"])
        .args(["--answer-rate", "50", "--answer-secs", "2"])
        .args(["--board-clients", "3", "--ledger-clients", "2"])
        .arg("--out")
        .arg(&out)
        .env("FENGHUO_BENCH_POSTGRES", postgres.unwrap_or_default())
        .current_dir(dir.path())
        .status()
        .expect("run the benchmark");
    assert!(status.success(), "bench exited {status}");
    let text = std::fs::read_to_string(&out).expect("the benchmark's report");
    assert!(text.contains("**Emergency minute (300 contacts"), "{text}");
    let mut names = vec!["SQLite"];
    if backends.contains("postgres") {
        names.push("PostgreSQL");
    }
    for name in names {
        let r = row(&text, name);
        // 50 answers a second for 2 s: each acknowledged, each in the database.
        assert_eq!(
            cell(&r, "answers OK (recorded)"),
            "100 (100)",
            "{name}: {r:?}"
        );
        for errors in ["answer errors", "board errors", "ledger errors"] {
            assert_eq!(cell(&r, errors), "0", "{name} {errors}: {r:?}");
        }
        for figure in [
            "all `sent` ms",
            "answer p99 ms",
            "board p99 ms",
            "ledger write p99 ms",
        ] {
            assert!(
                cell(&r, figure).parse::<f64>().is_ok(),
                "{name}: {figure} is a figure: {r:?}"
            );
        }
    }
}
