//! The plans directory of a county: top-level `*.toml` files are the home
//! township's plans (a single-township install has nothing else), a folder
//! named by a township's 12-digit division code holds that township's, and
//! `county/` the county bureau's. Each folder is checked against its own
//! township's villages and shelters; then the plans are checked against each
//! other: a township plan's `follows` must name a county plan, and cover it.

use std::collections::BTreeMap;
use std::path::Path;

use super::model::{Hazard, Plan, level_label_zh};
use super::{
    LoadResult, NOTE_NO_VILLAGES, PlanOwner, Problem, Registry, load_dir_with, load_files,
};

/// The folder of the county bureau's plans.
pub const COUNTY_DIR: &str = "county";

/// The owner given to a township folder's plans when the townships were not
/// read (`plans check` without a database): no township has id 0.
pub const UNMATCHED: i64 = 0;

/// Said when township folders could not be matched to townships.
const NOTE_NO_TOWNSHIPS: &str = "township folders were not matched to townships and their village codes were not checked: the township list was not read (未读取乡镇列表，未核对乡镇目录及其村代码)";

/// A township as its folder is checked: its id, its division code (the
/// folder's name) and its own villages and shelters.
#[derive(Debug, Clone)]
pub struct TownshipKnown<'a> {
    pub id: i64,
    pub code: String,
    pub known: Registry<'a>,
}

/// What each folder of the plans directory is checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tree<'a> {
    /// The top-level files: the home township's.
    pub home: Registry<'a>,
    /// Every township, by division code; `None` when not read (no database).
    pub townships: Option<&'a [TownshipKnown<'a>]>,
    /// `county/`: the villages and shelters of every township.
    pub county: Registry<'a>,
}

/// Loads the whole plans directory (see the module's comment).
pub fn load_tree(dir: &Path, tree: &Tree<'_>) -> LoadResult {
    let mut out = load_dir_with(dir, tree.home);
    let mut folders: Vec<_> = std::fs::read_dir(dir)
        .map(|es| {
            es.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    folders.sort();
    let mut folder_plans = false;
    for folder in folders {
        let Some(name) = folder.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // .git and the like are not plans.
        if name.starts_with('.') {
            continue;
        }
        let part = if name == COUNTY_DIR {
            load_files(&folder, tree.county, PlanOwner::County)
        } else if name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit()) {
            match tree.townships {
                None => {
                    add_note(&mut out, NOTE_NO_TOWNSHIPS);
                    load_files(&folder, Registry::default(), PlanOwner::Township(UNMATCHED))
                }
                Some(ts) => match ts.iter().find(|t| t.code == name) {
                    Some(t) => load_files(&folder, t.known, PlanOwner::Township(t.id)),
                    None => {
                        out.files.push(Err(vec![whole(
                            &folder,
                            format!(
                                "no township has the division code '{name}' (没有区划代码为 {name} 的乡镇); name a township's folder by its 12-digit code, as registered: {}",
                                known_codes(ts)
                            ),
                        )]));
                        continue;
                    }
                },
            }
        } else {
            out.files.push(Err(vec![whole(
                &folder,
                format!(
                    "folder '{name}' is neither a township's 12-digit division code nor '{COUNTY_DIR}' (预案目录下的子目录须以乡镇12位区划代码或 {COUNTY_DIR} 命名)"
                ),
            )]));
            continue;
        };
        folder_plans |= part.plans().next().is_some();
        out.files.extend(part.files);
        for n in part.notes {
            // The villages note is said once, for the top level.
            if n != NOTE_NO_VILLAGES || tree.home.villages.is_some() {
                add_note(&mut out, &n);
            }
        }
    }
    if folder_plans {
        // A county's top level may hold no plan of its own.
        out.notes
            .retain(|n| !n.starts_with("no plan files (*.toml) in "));
    }
    cross_check(&mut out);
    out
}

fn add_note(out: &mut LoadResult, note: &str) {
    if !out.notes.iter().any(|n| n == note) {
        out.notes.push(note.to_string());
    }
}

fn whole(path: &Path, message: String) -> Problem {
    Problem {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        message,
    }
}

fn known_codes(ts: &[TownshipKnown<'_>]) -> String {
    if ts.is_empty() {
        return "none (无)".into();
    }
    ts.iter()
        .map(|t| t.code.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the plans say of each other: one id per owner, `follows` only in a
/// township plan and naming a county plan it covers, `report_to` only (and
/// always) in a county plan. A plan with such a problem is not loaded, as
/// with any other problem (its last good version stays in force).
fn cross_check(out: &mut LoadResult) {
    let county: BTreeMap<String, Plan> = out
        .plans()
        .filter(|p| p.owner == PlanOwner::County)
        .map(|p| (p.plan.id.clone(), p.plan.clone()))
        .collect();
    let county_broken = out.files.iter().any(|f| {
        f.as_ref().err().and_then(|ps| ps.first()).is_some_and(|p| {
            Path::new(&p.file)
                .parent()
                .and_then(|d| d.file_name())
                .is_some_and(|d| d == COUNTY_DIR)
        })
    });
    let mut seen: BTreeMap<(PlanOwner, String), String> = BTreeMap::new();
    for f in &mut out.files {
        let Ok(p) = f else { continue };
        let mut found: Vec<(Where, String)> = Vec::new();
        let key = (p.owner, p.plan.id.clone());
        // Unmatched folders are each another township (ids repeat freely).
        let unmatched = p.owner == PlanOwner::Township(UNMATCHED);
        if let Some(first) = seen.get(&key).filter(|_| !unmatched) {
            found.push((
                Where::Id,
                format!(
                    "plan id '{}' is already used by {first} (预案编号重复); give each plan its own id",
                    p.plan.id
                ),
            ));
        } else {
            seen.insert(key, p.file.clone());
        }
        match (p.owner, &p.plan.follows) {
            (PlanOwner::County, Some(_)) => found.push((
                Where::Follows,
                "a county plan follows no other plan: remove follows (县级预案不填写 follows)".into(),
            )),
            (PlanOwner::Township(_), Some(id)) => match county.get(id) {
                Some(c) => found.extend(
                    coverage(c, &p.plan)
                        .into_iter()
                        .map(|m| (Where::Follows, m)),
                ),
                None => found.push((
                    Where::Follows,
                    format!(
                        "follows '{id}' names no county plan (未找到所跟随的县级预案) in {COUNTY_DIR}/; county plans: {}{}",
                        if county.is_empty() {
                            "none (无)".to_string()
                        } else {
                            county.keys().cloned().collect::<Vec<_>>().join(", ")
                        },
                        if county_broken {
                            " (a county plan file has problems, see above / 县级预案文件有问题)"
                        } else {
                            ""
                        }
                    ),
                )),
            },
            _ => {}
        }
        match p.owner {
            PlanOwner::County if p.plan.report_to.is_empty() => found.push((
                Where::ReportTo,
                "a county plan names whom the townships' activations are reported to, e.g. report_to = [\"县应急局值班员\"] (县级预案须填写报送对象)".into(),
            )),
            PlanOwner::Township(_) if !p.plan.report_to.is_empty() => found.push((
                Where::ReportTo,
                "report_to belongs in the county plan; a township plan says follows = \"<county plan id>\" (报送对象在县级预案中填写)".into(),
            )),
            _ => {}
        }
        if found.is_empty() {
            continue;
        }
        let at = super::check::parse(&p.file, &p.text, Registry::default())
            .map(|c| (c.id_at, c.follows_at, c.report_to_at))
            .unwrap_or(((1, 1), (1, 1), (1, 1)));
        let problems = found
            .into_iter()
            .map(|(w, message)| {
                let (line, column) = match w {
                    Where::Id => at.0,
                    Where::Follows => at.1,
                    Where::ReportTo => at.2,
                };
                Problem {
                    file: p.file.clone(),
                    line,
                    column,
                    message,
                }
            })
            .collect();
        *f = Err(problems);
    }
}

#[derive(Clone, Copy)]
enum Where {
    Id,
    Follows,
    ReportTo,
}

/// Whether a hazard's township plan can follow a county plan of `county`'s:
/// the same, or a combined flood-and-typhoon plan for either.
fn same_hazard(township: Hazard, county: Hazard) -> bool {
    township == county
        || (township == Hazard::FloodTyphoon && matches!(county, Hazard::Flood | Hazard::Typhoon))
}

/// How a township plan falls short of the county plan it follows: the same
/// hazard; every response level the county plan has, reached no later (each
/// reading that meets a county level's triggers meets the township's same
/// level); every county warning matched by a warning the same reading issues.
pub(crate) fn coverage(county: &Plan, township: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if !same_hazard(township.hazard, county.hazard) {
        out.push(format!(
            "hazard {} ({}) differs from that of the county plan '{}' it follows: {} ({}) (灾种与所跟随的县级预案不一致)",
            serde_json::to_value(township.hazard)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            township.hazard.label_zh(),
            county.id,
            serde_json::to_value(county.hazard)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            county.hazard.label_zh(),
        ));
    }
    for cl in &county.levels {
        let label = level_label_zh(cl.level);
        let Some(tl) = township.levels.iter().find(|l| l.level == cl.level) else {
            out.push(format!(
                "level {label} of the county plan '{}' has no level here (缺少县级预案的{label}响应)",
                county.id
            ));
            continue;
        };
        for reading in cl.triggers.thresholds() {
            if !tl.triggers.met_by(&reading) {
                out.push(format!(
                    "level {label}: the county plan '{}' responds at {label} to {}, this plan's level {label} does not (本预案{label}响应须不晚于县级预案启动)",
                    county.id,
                    reading.words()
                ));
            }
        }
    }
    for cw in &county.warnings {
        for reading in cw.triggers.thresholds() {
            if !township
                .warnings
                .iter()
                .any(|w| w.triggers.met_by(&reading))
            {
                out.push(format!(
                    "the county plan '{}' issues its warning '{}' ({}) at {}; no warning here is issued by it (缺少与县级预案对应的预警)",
                    county.id,
                    cw.id,
                    cw.title,
                    reading.words()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    /// The sample county layout: a county plan and two townships' folders.
    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans-county")
    }

    /// A copy of the fixture to edit: (its directory guard, its path).
    fn copy() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["county", "350524101000", "350524102000"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
            for f in std::fs::read_dir(fixture().join(sub)).expect("fixture") {
                let f = f.expect("entry").path();
                let to = dir.path().join(sub).join(f.file_name().expect("name"));
                std::fs::copy(&f, to).expect("copy");
            }
        }
        let path = dir.path().to_path_buf();
        (dir, path)
    }

    fn edit(path: &Path, find: &str, replace: &str) {
        let text = std::fs::read_to_string(path).expect("read");
        assert_eq!(
            text.matches(find).count(),
            1,
            "{find} once in {}",
            path.display()
        );
        std::fs::write(path, text.replacen(find, replace, 1)).expect("write");
    }

    fn townships() -> Vec<TownshipKnown<'static>> {
        vec![
            TownshipKnown {
                id: 1,
                code: "350524101000".into(),
                known: Registry::default(),
            },
            TownshipKnown {
                id: 2,
                code: "350524102000".into(),
                known: Registry::default(),
            },
        ]
    }

    fn problems(r: &LoadResult) -> Vec<String> {
        r.problems().map(ToString::to_string).collect()
    }

    #[test]
    fn each_folder_is_its_townships_and_ids_are_per_township() {
        let ts = townships();
        let tree = Tree {
            townships: Some(&ts),
            ..Tree::default()
        };
        let r = load_tree(&fixture(), &tree);
        assert!(r.is_ok(), "{:#?}", problems(&r));
        let mut owners: Vec<(PlanOwner, String)> =
            r.plans().map(|p| (p.owner, p.plan.id.clone())).collect();
        owners.sort();
        assert_eq!(
            owners,
            vec![
                (PlanOwner::Township(1), "flood-typhoon".into()),
                (PlanOwner::Township(2), "flood-typhoon".into()),
                (PlanOwner::County, "county-flood".into()),
            ]
        );
        let county = r
            .plans()
            .find(|p| p.owner == PlanOwner::County)
            .expect("county plan");
        assert_eq!(county.plan.report_to, vec!["县应急局值班员"]);
        assert!(
            !r.notes.iter().any(|n| n.starts_with("no plan files")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn a_folder_no_township_has_is_a_problem() {
        let ts = townships();
        let tree = Tree {
            townships: Some(&ts[..1]),
            ..Tree::default()
        };
        let r = load_tree(&fixture(), &tree);
        let p = problems(&r);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].contains("350524102000:1:1: no township has the division code '350524102000'")
                && p[0].contains("350524101000"),
            "{p:?}"
        );
        assert_eq!(r.plans().count(), 2);
        // Without the township list the folders are read, and it is said.
        let r = load_tree(&fixture(), &Tree::default());
        assert!(r.is_ok(), "{:#?}", problems(&r));
        assert!(
            r.notes.iter().any(|n| n == NOTE_NO_TOWNSHIPS),
            "{:?}",
            r.notes
        );
        // Any other folder name is a problem too.
        let (_g, dir) = copy();
        std::fs::create_dir(dir.join("old")).expect("mkdir");
        let r = load_tree(&dir, &Tree::default());
        let p = problems(&r);
        assert!(
            p.len() == 1 && p[0].contains("old:1:1: folder 'old' is neither"),
            "{p:?}"
        );
    }

    #[test]
    fn follows_must_name_a_county_plan() {
        let (_g, dir) = copy();
        let a = dir.join("350524101000/flood-typhoon.toml");
        edit(
            &a,
            "follows = \"county-flood\"",
            "follows = \"county-fire\"",
        );
        let ts = townships();
        let r = load_tree(
            &dir,
            &Tree {
                townships: Some(&ts),
                ..Tree::default()
            },
        );
        let p = problems(&r);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].ends_with(
                "350524101000/flood-typhoon.toml:9:11: follows 'county-fire' names no county plan (未找到所跟随的县级预案) in county/; county plans: county-flood"
            ),
            "{p:?}"
        );
        // The other township's plan of the same id is untouched.
        assert_eq!(
            r.plans().filter(|p| p.plan.id == "flood-typhoon").count(),
            1
        );
    }

    #[test]
    fn a_township_plan_responds_no_later_than_the_county_plan() {
        let (_g, dir) = copy();
        let b = dir.join("350524102000/flood-typhoon.toml");
        // Ⅲ only at red, where the county plan answers orange; the blue
        // warning gone; the wrong hazard.
        edit(
            &b,
            "triggers = { rainstorm_signal = \"orange\", rainfall = [{ hours = 1, mm = 30 }] }",
            "triggers = { rainfall = [{ hours = 1, mm = 30 }] }",
        );
        edit(
            &b,
            "triggers = { rainstorm_signal = \"blue\" }",
            "triggers = { rainstorm_signal = \"yellow\" }",
        );
        edit(&b, "hazard = \"flood_typhoon\"", "hazard = \"geological\"");
        let ts = townships();
        let r = load_tree(
            &dir,
            &Tree {
                townships: Some(&ts),
                ..Tree::default()
            },
        );
        let p = problems(&r);
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(
            p.iter()
                .all(|m| m.contains("350524102000/flood-typhoon.toml:9:11: ")),
            "{p:#?}"
        );
        assert!(
            p[0].contains("hazard geological (地质灾害) differs"),
            "{p:#?}"
        );
        assert!(
            p[1].contains("level Ⅲ级（黄色）: the county plan 'county-flood' responds at Ⅲ级（黄色） to 暴雨预警信号 橙色 / rain-storm signal orange"),
            "{p:#?}"
        );
        assert!(p[2].contains("warning 'rainstorm-blue'"), "{p:#?}");
        // Earlier than the county is fine: Ⅳ at blue rather than yellow.
        let (_g, dir) = copy();
        let a = dir.join("350524101000/flood-typhoon.toml");
        edit(
            &a,
            "triggers = { rainstorm_signal = \"yellow\", rainfall = [{ hours = 1, mm = 20 }] }",
            "triggers = { rainstorm_signal = \"blue\", rainfall = [{ hours = 1, mm = 20 }] }",
        );
        let r = load_tree(
            &dir,
            &Tree {
                townships: Some(&ts),
                ..Tree::default()
            },
        );
        assert!(r.is_ok(), "{:#?}", problems(&r));
    }

    #[test]
    fn report_to_belongs_to_county_plans_and_follows_to_township_plans() {
        let (_g, dir) = copy();
        let a = dir.join("350524101000/flood-typhoon.toml");
        edit(
            &a,
            "follows = \"county-flood\"\n",
            "follows = \"county-flood\"\nreport_to = [\"县应急局值班员\"]\n",
        );
        let c = dir.join("county/county-flood.toml");
        edit(
            &c,
            "report_to = [\"县应急局值班员\"]\n",
            "follows = \"x\"\n",
        );
        let ts = townships();
        let r = load_tree(
            &dir,
            &Tree {
                townships: Some(&ts),
                ..Tree::default()
            },
        );
        let p = problems(&r);
        assert!(
            p.iter().any(|m| m.contains(
                "350524101000/flood-typhoon.toml:10:13: report_to belongs in the county plan"
            )),
            "{p:#?}"
        );
        assert!(
            p.iter().any(|m| m.contains("county-flood.toml:10:11: a county plan follows no other plan")),
            "{p:#?}"
        );
        assert!(
            p.iter()
                .any(|m| m.contains("county-flood.toml:1:1: a county plan names whom")),
            "{p:#?}"
        );
        // A role no one knows is found by the file's own check.
        let (_g, dir) = copy();
        let c = dir.join("county/county-flood.toml");
        edit(
            &c,
            "report_to = [\"县应急局值班员\"]",
            "report_to = [\"县长秘书\"]",
        );
        let r = load_tree(&dir, &Tree::default());
        let p = problems(&r);
        assert!(
            p.iter()
                .any(|m| m.contains("county-flood.toml:10:14: unknown role '县长秘书'")),
            "{p:#?}"
        );
    }
}
