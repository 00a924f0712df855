//! Hidden dangers (隐患) from the office's rectification ledger: each row a
//! finding of a site (by credit code, else by its name) found on a day by
//! its inspectors; the rows of one visit become one inspection. A finding
//! is matched on its site, date and item: one stored already is left as it
//! is (its rectification and close-out are steps taken in the system).

use std::collections::{HashMap, HashSet};

use sqlx::AnyConnection;

use super::cells;
use super::columns::{Col, Row, header};
use super::{Action, Ctx, ImportError, Importer, Planned, Problem};
use crate::ledger::inspections::{self, FindingInput, Grade, InspectionInput};
use crate::ledger::sites::SiteRow;

const fn col(
    field: &'static str,
    header: &'static str,
    aliases: &'static [&'static str],
    required: bool,
    note: &'static str,
    example: &'static str,
) -> Col {
    Col {
        field,
        header,
        aliases,
        required,
        note,
        example,
    }
}

pub const COLUMNS: &[Col] = &[
    col(
        "credit_code",
        "统一社会信用代码",
        &["信用代码"],
        false,
        "单位的 18 位代码；不填则按单位名称找",
        "91350524MA2XXXXXXX",
    ),
    col(
        "site",
        "单位名称",
        &["企业名称", "被检查单位"],
        false,
        "已在台账中登记的单位",
        "湖上加油站",
    ),
    col(
        "inspected_on",
        "检查日期",
        &["检查时间"],
        true,
        "日期",
        "2026-06-12",
    ),
    col(
        "inspectors",
        "检查人员",
        &["检查人"],
        true,
        "至少一人，多人用“、”分开",
        "林一、陈二",
    ),
    col(
        "item",
        "隐患内容",
        &["隐患", "隐患项目", "存在问题"],
        true,
        "",
        "储罐区静电接地线断开",
    ),
    col("description", "隐患描述", &["详细描述"], false, "", ""),
    col(
        "grade",
        "等级",
        &["隐患等级", "级别"],
        true,
        "一般 或 重大",
        "一般",
    ),
    col(
        "measures",
        "整改措施",
        &[],
        false,
        "",
        "重新连接接地线并检测",
    ),
    col("funding", "资金", &["整改资金"], false, "", "0.2万元"),
    col(
        "responsible",
        "责任人",
        &["整改责任人"],
        false,
        "",
        "陈安全",
    ),
    col(
        "deadline",
        "整改期限",
        &["整改时限", "期限"],
        true,
        "日期，不早于检查日期",
        "2026-06-30",
    ),
    col("reinspector", "复查人", &["复查人员"], false, "", "林一"),
];

const GRADES: &[(&str, Grade)] = &[
    ("一般", Grade::General),
    ("一般隐患", Grade::General),
    ("重大", Grade::Major),
    ("重大隐患", Grade::Major),
];

pub struct Findings;

pub struct Op {
    site_id: i64,
    inspected_on: String,
    inspectors: Vec<String>,
    inspector_ids: Vec<i64>,
    finding: FindingInput,
}

struct Stored {
    by_code: HashMap<String, (i64, String)>,
    /// Site names held by exactly one live site.
    by_name: HashMap<String, i64>,
    keys: HashSet<(i64, String, String)>,
    inspectors: Vec<crate::enforcement::inspectors::InspectorRow>,
}

impl Importer for Findings {
    type Op = Op;

    async fn plan(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        rows: &[Row],
    ) -> Result<Vec<Planned<Op>>, ImportError> {
        let sites: Vec<SiteRow> = crate::ledger::sites::live_in(conn, ctx.township).await?;
        let mut names: HashMap<String, Vec<i64>> = HashMap::new();
        for s in &sites {
            names.entry(s.name.clone()).or_default().push(s.id);
        }
        let stored = Stored {
            by_code: sites
                .iter()
                .filter_map(|s| Some((s.credit_code.clone()?, (s.id, s.name.clone()))))
                .collect(),
            by_name: names
                .into_iter()
                .filter(|(_, ids)| ids.len() == 1)
                .map(|(n, ids)| (n, ids[0]))
                .collect(),
            keys: inspections::finding_keys(conn, ctx.township).await?,
            inspectors: crate::enforcement::inspectors::live_in(conn, ctx.township).await?,
        };
        let mut seen: HashMap<(i64, String, String), u32> = HashMap::new();
        Ok(rows
            .iter()
            .map(|row| plan_row(row, ctx, &stored, &mut seen))
            .collect())
    }

    async fn apply(conn: &mut AnyConnection, ctx: &Ctx, op: Op) -> Result<(), ImportError> {
        let inspection = inspections::inspection_for(
            conn,
            op.site_id,
            ctx.township,
            &op.inspected_on,
            &op.inspectors,
            &op.inspector_ids,
        )
        .await?;
        inspections::insert_finding(conn, inspection, op.site_id, ctx.township, &op.finding)
            .await?;
        Ok(())
    }
}

fn plan_row(
    row: &Row,
    ctx: &Ctx,
    stored: &Stored,
    seen: &mut HashMap<(i64, String, String), u32>,
) -> Planned<Op> {
    let mut problems = Vec::new();
    let mut problem =
        |field: &str, m: String| problems.push(Problem::new(row.number, header(COLUMNS, field), m));
    let site = match (row.get("credit_code"), row.get("site")) {
        (Some(code), _) => match stored.by_code.get(&code.to_uppercase()) {
            Some((id, _)) => Some(*id),
            None => {
                problem(
                    "credit_code",
                    format!("台账中没有统一社会信用代码为“{code}”的单位"),
                );
                None
            }
        },
        (None, Some(name)) => match stored.by_name.get(name) {
            Some(id) => Some(*id),
            None => {
                problem(
                    "site",
                    format!("台账中没有（或有不止一家）名为“{name}”的单位：请填统一社会信用代码"),
                );
                None
            }
        },
        (None, None) => {
            problem("site", "单位名称和统一社会信用代码至少填一个".into());
            None
        }
    };
    let date_of = |field: &str, problem: &mut dyn FnMut(&str, String)| match row.get(field) {
        Some(v) => cells::date(v).map_err(|m| problem(field, m)).ok(),
        None => {
            problem(field, "必填".into());
            None
        }
    };
    let inspected_on = date_of("inspected_on", &mut problem);
    let deadline = date_of("deadline", &mut problem);
    let typed = row.get("inspectors").map(cells::list).unwrap_or_default();
    // Each name (or 执法证号) a registered inspector, enough of them, each
    // certificate valid on the day; the inspection keeps "姓名（执法证号）".
    let mut team = Vec::new();
    if typed.len() < ctx.min_inspectors.max(1) {
        problem(
            "inspectors",
            format!("至少填 {} 名已登记的执法人员", ctx.min_inspectors.max(1)),
        );
    } else {
        match crate::enforcement::inspectors::match_names(&stored.inspectors, &typed) {
            Ok(ids) => team = ids,
            Err(m) => problem("inspectors", m),
        }
    }
    if let Some(on) = &inspected_on {
        for id in &team {
            if let Some(r) = stored.inspectors.iter().find(|r| r.id == *id)
                && !r.valid_on(on)
            {
                problem(
                    "inspectors",
                    format!(
                        "{} 的执法证在 {on} 无效（有效期 {} 至 {}）",
                        r.label(),
                        r.valid_from,
                        r.valid_until
                    ),
                );
            }
        }
    }
    let inspectors: Vec<String> = team
        .iter()
        .filter_map(|id| stored.inspectors.iter().find(|r| r.id == *id))
        .map(|r| r.label())
        .collect();
    let item = row.get("item").unwrap_or_default().to_string();
    if item.is_empty() {
        problem("item", "必填".into());
    }
    let grade = match row
        .get("grade")
        .map(|g| cells::choice(g, GRADES, "隐患等级"))
    {
        Some(Ok(g)) => Some(g),
        Some(Err(m)) => {
            problem("grade", m);
            None
        }
        None => {
            problem("grade", "必填".into());
            None
        }
    };
    let text = |f: &str| row.get(f).map(str::to_string);
    let finding = FindingInput {
        grade: grade.unwrap_or(Grade::General),
        item: item.clone(),
        description: text("description"),
        measures: text("measures"),
        funding: text("funding"),
        responsible: text("responsible"),
        deadline: deadline.clone().unwrap_or_default(),
        reinspector: text("reinspector"),
        checklist_item: None,
    };
    let shown = vec![
        (
            "单位",
            row.get("site")
                .or(row.get("credit_code"))
                .unwrap_or_default()
                .to_string(),
        ),
        ("检查日期", inspected_on.clone().unwrap_or_default()),
        ("检查人员", typed.join("、")),
        ("隐患内容", item.clone()),
        (
            "等级",
            if finding.grade == Grade::Major {
                "重大"
            } else {
                "一般"
            }
            .to_string(),
        ),
        ("整改措施", finding.measures.clone().unwrap_or_default()),
        ("资金", finding.funding.clone().unwrap_or_default()),
        ("责任人", finding.responsible.clone().unwrap_or_default()),
        ("整改期限", finding.deadline.clone()),
        ("复查人", finding.reinspector.clone().unwrap_or_default()),
    ];
    let (Some(site_id), Some(on), true) = (site, inspected_on, problems.is_empty()) else {
        return Planned::refused(row, shown, problems);
    };
    let key = (site_id, on.clone(), item.trim().to_string());
    if let Some(first) = seen.get(&key) {
        let p = Problem::new(
            row.number,
            header(COLUMNS, "item"),
            format!("与第{first}行是同一单位同一天的同一隐患"),
        );
        return Planned::refused(row, shown, vec![p]);
    }
    seen.insert(key.clone(), row.number);
    let check = InspectionInput {
        inspected_on: on.clone(),
        inspector_ids: team.clone(),
        summary: None,
        findings: vec![finding.clone()],
    };
    if let Err(e) = inspections::validate(&check, ctx.tz) {
        let field = match e.field.as_str() {
            f if f.starts_with("findings[0].") => &f["findings[0].".len()..],
            f => f,
        };
        let column = match header(COLUMNS, field) {
            "" => "隐患内容",
            h => h,
        };
        let message = match field {
            "inspected_on" => "检查日期不能晚于今天".to_string(),
            "deadline" => "整改期限不能早于检查日期".to_string(),
            _ => format!("不符合要求：{}", e.message),
        };
        return Planned::refused(row, shown, vec![Problem::new(row.number, column, message)]);
    }
    if stored.keys.contains(&key) {
        return Planned::ok(row, Action::Unchanged, shown, None);
    }
    Planned::ok(
        row,
        Action::Create,
        shown,
        Some(Op {
            site_id,
            inspected_on: on,
            inspectors,
            inspector_ids: team,
            finding,
        }),
    )
}
