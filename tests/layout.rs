//! The layering ARCHITECTURE.md promises, checked on the source: the API
//! and the dashboard are adapters with no SQL that never import each other,
//! no page builds HTML from strings, and a notice has one way in.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Lines of `dir`'s Rust files that contain `needle`, outside comments.
fn lines_with(dir: &str, needle: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut hits = Vec::new();
    for f in rust_files(&root) {
        let text = std::fs::read_to_string(&f).expect("read");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && code.contains(needle) {
                hits.push(format!("{}:{}: {}", f.display(), n + 1, code));
            }
        }
    }
    hits
}

#[test]
fn adapters_hold_no_sql() {
    for dir in ["src/api", "src/web"] {
        let hits = lines_with(dir, "sqlx");
        assert!(
            hits.is_empty(),
            "SQL belongs to the services:\n{}",
            hits.join("\n")
        );
    }
}

#[test]
fn api_and_web_do_not_import_each_other() {
    let hits: Vec<String> = lines_with("src/api", "crate::web")
        .into_iter()
        .chain(lines_with("src/web", "crate::api"))
        .collect();
    assert!(
        hits.is_empty(),
        "share through app.rs instead:\n{}",
        hits.join("\n")
    );
}

#[test]
fn pages_are_not_built_from_strings() {
    let mut hits = lines_with("src/web", "format!(\"<");
    hits.extend(lines_with("src/web", "push_str(\"<"));
    hits.extend(lines_with("src/web", "write!(h, \"<"));
    hits.extend(lines_with("src/web", "write!(b, \"<"));
    assert!(
        hits.is_empty(),
        "pages come from templates/:\n{}",
        hits.join("\n")
    );
}

#[test]
fn notices_have_one_way_in() {
    // `notify::send` is the only caller of the accepting step; everything
    // else (API, dashboard, plans, drills) calls `notify::send`.
    let callers: Vec<String> = lines_with("src", "create_and_wake(")
        .into_iter()
        .filter(|l| !l.contains("async fn create_and_wake("))
        .collect();
    assert_eq!(callers.len(), 1, "{}", callers.join("\n"));
    assert!(callers[0].contains("src/notify/mod.rs"), "{}", callers[0]);
    let wakes: Vec<String> = lines_with("src", "notify_waiters()")
        .into_iter()
        .filter(|l| !l.contains("src/notify/"))
        .collect();
    assert!(
        wakes.is_empty(),
        "callers wake the workers by hand:\n{}",
        wakes.join("\n")
    );
}
