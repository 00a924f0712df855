//! Contacts from the office's phone list: matched on the mobile number; the
//! village by name or code (empty or 乡级: the township's own people);
//! roles by their Chinese names.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::cells;
use super::columns::{Col, Row, header};
use super::{Action, Ctx, ImportError, Importer, Planned, Problem};
use crate::registry::contacts::{self, ContactInput, ValidContact};
use crate::registry::roles;
use crate::registry::villages::VillageRow;

pub const COLUMNS: &[Col] = &[
    Col {
        field: "name",
        header: "姓名",
        aliases: &["联系人"],
        required: true,
        note: "",
        example: "林志强",
    },
    Col {
        field: "phone",
        header: "手机",
        aliases: &["手机号码", "电话", "联系电话"],
        required: true,
        note: "用它识别同一人（重复导入不重复登记）",
        example: "139 5951 2468",
    },
    Col {
        field: "village",
        header: "村",
        aliases: &["所属村", "村名"],
        required: false,
        note: "村名或村代码；乡里的人填“乡级”或不填",
        example: "坑头村",
    },
    Col {
        field: "roles",
        header: "职务",
        aliases: &["角色", "岗位", "职务/角色"],
        required: false,
        note: "可填多个，用“、”分开：村支书、村主任、网格员、护林员、信息员、包村干部、山洪监测员、应急办值班、带班领导 等",
        example: "村主任、网格员",
    },
    Col {
        field: "email",
        header: "邮箱",
        aliases: &["电子邮箱"],
        required: false,
        note: "",
        example: "",
    },
    Col {
        field: "order",
        header: "叫应顺序",
        aliases: &["顺序"],
        required: false,
        note: "数字小的先叫；不填为 100",
        example: "10",
    },
    Col {
        field: "status",
        header: "状态",
        aliases: &[],
        required: false,
        note: "在岗 或 停用；不填为在岗",
        example: "在岗",
    },
    Col {
        field: "note",
        header: "备注",
        aliases: &[],
        required: false,
        note: "",
        example: "",
    },
];

const STATUSES: &[(&str, bool)] = &[
    ("在岗", true),
    ("启用", true),
    ("停用", false),
    ("离岗", false),
];

pub struct Contacts;

pub enum Op {
    Create(ValidContact),
    Update(i64, ValidContact),
}

fn village_name(villages: &[VillageRow], id: Option<i64>) -> String {
    id.and_then(|id| villages.iter().find(|v| v.id == id))
        .map_or_else(|| "乡级".to_string(), |v| v.name.clone())
}

fn values(v: &ValidContact, villages: &[VillageRow]) -> Vec<(&'static str, String)> {
    [
        ("姓名", v.name.clone()),
        ("手机", crate::phone::dialled(&v.phone)),
        ("村", village_name(villages, v.village_id)),
        ("职务", v.roles.join("、")),
        ("邮箱", v.email.clone().unwrap_or_default()),
        ("叫应顺序", v.escalation_order.to_string()),
        ("状态", if v.active { "在岗" } else { "停用" }.to_string()),
        ("备注", v.note.clone().unwrap_or_default()),
    ]
    .into()
}

impl Importer for Contacts {
    type Op = Op;

    async fn plan(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        rows: &[Row],
    ) -> Result<Vec<Planned<Op>>, ImportError> {
        let villages = crate::registry::villages::live_in(conn, ctx.township).await?;
        let stored = contacts::by_phone(conn, ctx.township).await?;
        let mut first_row: HashMap<String, u32> = HashMap::new();
        Ok(rows
            .iter()
            .map(|row| plan_row(row, &villages, &stored, &mut first_row))
            .collect())
    }

    async fn apply(conn: &mut AnyConnection, ctx: &Ctx, op: Op) -> Result<(), ImportError> {
        match op {
            Op::Create(v) => {
                contacts::insert_valid(conn, &v, ctx.township, false).await?;
            }
            Op::Update(id, v) => contacts::update_valid(conn, id, &v).await?,
        }
        Ok(())
    }
}

fn plan_row(
    row: &Row,
    villages: &[VillageRow],
    stored: &HashMap<String, (i64, ValidContact)>,
    first_row: &mut HashMap<String, u32>,
) -> Planned<Op> {
    let mut problems = Vec::new();
    let mut problem =
        |field: &str, m: String| problems.push(Problem::new(row.number, header(COLUMNS, field), m));
    let phone = match row.get("phone").map(cells::phone) {
        None => {
            problem("phone", "必填：用它识别同一人".into());
            None
        }
        Some(Err(m)) => {
            problem("phone", m);
            None
        }
        Some(Ok(p)) => {
            let key = p.as_str().to_string();
            match first_row.get(&key) {
                Some(first) => problem("phone", format!("与第{first}行是同一手机号")),
                None => {
                    first_row.insert(key, row.number);
                }
            }
            Some(p)
        }
    };
    let existing = phone.as_ref().and_then(|p| stored.get(p.as_str()));
    let mut v = match existing {
        Some((_, v)) => v.clone(),
        None => {
            if row.get("name").is_none() {
                problem("name", "必填".into());
            }
            ValidContact {
                name: String::new(),
                roles: Vec::new(),
                village_id: None,
                phone: String::new(),
                email: None,
                escalation_order: 100,
                active: true,
                note: None,
            }
        }
    };
    if let Some(n) = row.get("name") {
        v.name = n.to_string();
    }
    if let Some(p) = &phone {
        v.phone = p.as_str().to_string();
    }
    if let Some(name) = row.get("village") {
        if name == "乡级" || name == "乡镇" {
            v.village_id = None;
        } else {
            match villages.iter().find(|x| x.name == name || x.code == name) {
                Some(found) => v.village_id = Some(found.id),
                None => problem("village", format!("本乡镇没有名为（或代码为）“{name}”的村")),
            }
        }
    }
    if let Some(list) = row.get("roles") {
        let mut rs = Vec::new();
        for r in cells::list(list) {
            match roles::canonical(&r) {
                Some(known) if !rs.contains(&known) => rs.push(known),
                Some(_) => {}
                None => problem(
                    "roles",
                    format!("“{r}”不是系统中的职务，可用：{}", roles::known_list()),
                ),
            }
        }
        v.roles = rs;
    }
    if let Some(e) = row.get("email") {
        v.email = Some(e.to_string());
    }
    if let Some(o) = row.get("order") {
        match cells::count(o) {
            Ok(n) => v.escalation_order = n,
            Err(m) => problem("order", m),
        }
    }
    if let Some(s) = row.get("status") {
        match cells::choice(s, STATUSES, "状态") {
            Ok(a) => v.active = a,
            Err(m) => problem("status", m),
        }
    }
    if let Some(n) = row.get("note") {
        v.note = Some(n.to_string());
    }
    v.roles.sort_unstable();
    let shown = values(&v, villages);
    let (Some(phone), true) = (phone, problems.is_empty()) else {
        return Planned::refused(row, shown, problems);
    };
    // The registry's own checks (lengths, e-mail, the order's range).
    let input = ContactInput {
        name: v.name.clone(),
        roles: v
            .roles
            .iter()
            .filter_map(|r| roles::ContactRole::parse(r))
            .collect(),
        village_id: v.village_id,
        phone,
        email: v.email.clone(),
        escalation_order: Some(v.escalation_order),
        active: Some(v.active),
        note: v.note.clone(),
        version: None,
    };
    let mut checked = match contacts::validate(&input) {
        Ok(c) => c,
        Err(e) => {
            let field = match e.field.as_str() {
                "escalation_order" => "order",
                f => f,
            };
            let column = match header(COLUMNS, field) {
                "" => "姓名",
                h => h,
            };
            return Planned::refused(
                row,
                shown,
                vec![Problem::new(
                    row.number,
                    column,
                    format!("不符合要求：{}", e.message),
                )],
            );
        }
    };
    checked.roles.sort_unstable();
    match existing {
        Some((_, before)) if *before == checked => Planned::ok(row, Action::Unchanged, shown, None),
        Some((id, _)) => Planned::ok(row, Action::Update, shown, Some(Op::Update(*id, checked))),
        None => Planned::ok(row, Action::Create, shown, Some(Op::Create(checked))),
    }
}
