//! What a robot's post says, and each provider's JSON for it.
//!
//! A post is first a [`Doc`] (a head line and lines of a few kinds), then
//! written for the provider: markdown where the provider has it and no
//! @mention is needed (WeCom's markdown cannot @mention; DingTalk's can,
//! with `at.atMobiles` and the numbers in the text), text otherwise (WeCom
//! with `mentioned_mobile_list`; Feishu always: its custom bot cannot
//! @mention by phone). Sizes are held under each provider's limit (WeCom:
//! text 2048 bytes, markdown 4096). Posts are for the group: never an
//! answer link, only the office's board when `public_base_url` is set.

use serde_json::{Value, json};

use super::Kind;

/// How a post is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Markdown,
    Text,
}

impl MsgType {
    pub fn as_str(self) -> &'static str {
        match self {
            MsgType::Markdown => "markdown",
            MsgType::Text => "text",
        }
    }
    pub fn parse(s: &str) -> MsgType {
        if s == "markdown" {
            MsgType::Markdown
        } else {
            MsgType::Text
        }
    }
    /// What a provider's post is written as, with or without @mentions.
    pub fn for_robot(kind: Kind, mentions: bool) -> MsgType {
        match kind {
            Kind::Wecom if mentions => MsgType::Text,
            Kind::Wecom | Kind::Dingtalk => MsgType::Markdown,
            Kind::Feishu => MsgType::Text,
        }
    }
}

/// One line of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// From the notice's own text.
    Quote(String),
    Item(String),
    Link {
        label: String,
        url: String,
    },
}

/// A post before it is written for a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub head: String,
    pub lines: Vec<Line>,
}

/// Bytes a provider takes in a post's content.
fn limit(kind: Kind, t: MsgType) -> usize {
    match (kind, t) {
        (Kind::Wecom, MsgType::Text) => 2048,
        (Kind::Wecom, MsgType::Markdown) => 4096,
        // DingTalk and Feishu allow more (Feishu: 20 KB a request); a
        // group post longer than this is not read anyway. Room is left for
        // DingTalk's @numbers, added to the text when sent.
        (Kind::Dingtalk, _) => 3500,
        (Kind::Feishu, _) => 4000,
    }
}

/// `text` cut (at a character) to at most `max` bytes, ending in "…" when cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let room = max.saturating_sub("…".len());
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() > room {
            break;
        }
        end = i + c.len_utf8();
    }
    format!("{}…", &text[..end])
}

/// The post's content as stored and sent.
pub fn write(doc: &Doc, kind: Kind, t: MsgType) -> String {
    let one = |s: &str| s.replace(['\r', '\n'], " ");
    let mut out: Vec<String> = Vec::new();
    match t {
        MsgType::Markdown => {
            out.push(format!("### {}", one(&doc.head)));
            for l in &doc.lines {
                out.push(match l {
                    Line::Text(s) => one(s),
                    Line::Quote(s) => format!("> {}", one(s)),
                    Line::Item(s) => format!("- {}", one(s)),
                    Line::Link { label, url } => format!("[{}]({url})", one(label)),
                });
            }
        }
        MsgType::Text => {
            out.push(one(&doc.head));
            for l in &doc.lines {
                out.push(match l {
                    Line::Text(s) => one(s),
                    Line::Quote(s) => format!("「{}」", one(s)),
                    Line::Item(s) => format!("· {}", one(s)),
                    Line::Link { label, url } => format!("{}：{url}", one(label)),
                });
            }
        }
    }
    // DingTalk's markdown breaks lines only between paragraphs.
    let sep = if kind == Kind::Dingtalk && t == MsgType::Markdown {
        "\n\n"
    } else {
        "\n"
    };
    fit(&out.join(sep), limit(kind, t))
}

/// The head line of stored content (DingTalk's markdown `title`).
fn title_of(body: &str) -> String {
    let first = body.lines().next().unwrap_or("");
    fit(first.trim_start_matches('#').trim(), 120)
}

/// The JSON a provider is posted (before Feishu's `timestamp` and `sign`,
/// which are added when it is signed). `mentions` are mainland mobile
/// numbers (13800138000), @mentioned where the provider can.
pub fn payload(kind: Kind, t: MsgType, body: &str, mentions: &[String]) -> Value {
    match (kind, t) {
        (Kind::Wecom, MsgType::Markdown) => {
            json!({"msgtype": "markdown", "markdown": {"content": body}})
        }
        (Kind::Wecom, MsgType::Text) => {
            let mut text = json!({"content": body});
            if !mentions.is_empty() {
                text["mentioned_mobile_list"] = json!(mentions);
            }
            json!({"msgtype": "text", "text": text})
        }
        (Kind::Dingtalk, t) => {
            let at = json!({"atMobiles": mentions, "isAtAll": false});
            // A number is @mentioned in DingTalk's markdown only when the
            // text names it too.
            let ats: Vec<String> = mentions.iter().map(|m| format!("@{m}")).collect();
            match t {
                MsgType::Markdown => {
                    let text = if ats.is_empty() {
                        body.to_string()
                    } else {
                        format!("{body}\n\n{}", ats.join(" "))
                    };
                    json!({"msgtype": "markdown", "markdown": {"title": title_of(body), "text": text}, "at": at})
                }
                MsgType::Text => {
                    json!({"msgtype": "text", "text": {"content": body}, "at": at})
                }
            }
        }
        (Kind::Feishu, _) => json!({"msg_type": "text", "content": {"text": body}}),
    }
}

/// A mainland mobile number as the providers take it (13800138000), from
/// E.164; `None` for any other number.
pub fn mobile(e164: &str) -> Option<String> {
    let n = e164.strip_prefix("+86")?;
    (n.len() == 11 && n.starts_with('1') && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.to_string())
}

/// A notice as its posts describe it.
#[derive(Debug, Clone)]
pub struct Notice {
    pub title: String,
    /// The text with what differs per recipient already written for a group.
    pub body: String,
    pub level: Option<i64>,
    pub exercise: bool,
    /// Alert, Update or Cancel (an all-clear).
    pub msg_type: String,
    pub office: String,
    /// When it was sent, local ("7月28日 21:30").
    pub sent_at: String,
    /// Minutes to answer in, and by when (local "21:45").
    pub answer_within: Option<(i64, String)>,
    /// The villages it concerns, by name.
    pub villages: Vec<String>,
    /// The office's board of it, when `public_base_url` is set.
    pub board: Option<String>,
}

/// Answer counts of a notice as one group sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: i64,
    pub answered: i64,
    /// Not answered within the notice's answer window.
    pub overdue: i64,
    /// Per village (the office's group), in order; the township's own
    /// contacts under "乡级".
    pub villages: Vec<(String, i64, i64, i64)>,
}

impl Counts {
    /// What an update compares with the last one posted.
    pub fn snapshot(&self) -> String {
        format!("{}/{}/{}", self.answered, self.total, self.overdue)
    }
    pub fn all_answered(&self) -> bool {
        self.total > 0 && self.answered == self.total
    }
    fn rate(&self) -> String {
        if self.total == 0 {
            return "0/0".into();
        }
        format!(
            "{}/{}（{}%）",
            self.answered,
            self.total,
            self.answered * 100 / self.total
        )
    }
}

/// Villages named in a post: the first 20, then how many more.
const MAX_VILLAGES: usize = 20;

fn head(n: &Notice, what: &str) -> String {
    let drill = if n.exercise { "【演练】" } else { "" };
    let kind = match n.msg_type.as_str() {
        "Cancel" => "【解除】".to_string(),
        "Update" => "【更新】".to_string(),
        _ => format!("【{}】", crate::notify::intake::template::level_zh(n.level)),
    };
    format!("{drill}{what}{kind}{}", n.title)
}

fn board(n: &Notice, lines: &mut Vec<Line>) {
    if let Some(url) = &n.board {
        lines.push(Line::Link {
            label: "查看叫应情况（应急办）".into(),
            url: url.clone(),
        });
    }
}

/// A notice's first post in a group: what it is, its first lines, where,
/// to how many, by when.
pub fn summary(n: &Notice, c: &Counts) -> Doc {
    let mut lines = vec![Line::Text(format!("{} {} 发布", n.office, n.sent_at))];
    let mut room = 200usize;
    for l in n
        .body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
    {
        if room == 0 {
            break;
        }
        let count = l.chars().count();
        let shown: String = l.chars().take(room).collect();
        room = room.saturating_sub(count);
        lines.push(Line::Quote(if count > shown.chars().count() {
            format!("{shown}…")
        } else {
            shown
        }));
    }
    if !n.villages.is_empty() {
        let mut names: Vec<&str> = n
            .villages
            .iter()
            .take(MAX_VILLAGES)
            .map(String::as_str)
            .collect();
        let more = n.villages.len().saturating_sub(MAX_VILLAGES);
        let more = if more > 0 {
            format!(" 等{}个村", n.villages.len())
        } else {
            String::new()
        };
        names.dedup();
        lines.push(Line::Item(format!("涉及村：{}{more}", names.join("、"))));
    }
    lines.push(Line::Item(format!(
        "叫应对象：{} 人，已叫应 {} 人",
        c.total, c.answered
    )));
    if let Some((minutes, by)) = &n.answer_within {
        lines.push(Line::Item(format!("须在 {minutes} 分钟内（{by} 前）确认")));
    }
    board(n, &mut lines);
    lines.push(Line::Text(
        "本群消息仅作通报，在群里回复不算叫应；请收到短信的同志按短信回复或电话确认。".into(),
    ));
    Doc {
        head: head(n, ""),
        lines,
    }
}

/// The answer counts now (per village for the office's group).
pub fn update(n: &Notice, c: &Counts, at: &str, per_village: bool) -> Doc {
    let mut lines = vec![Line::Text(format!("已叫应 {}", c.rate()))];
    if per_village {
        for (name, total, answered, overdue) in c.villages.iter().take(MAX_VILLAGES) {
            let late = if *overdue > 0 {
                format!("，超时未叫应 {overdue} 人")
            } else {
                String::new()
            };
            lines.push(Line::Item(format!("{name} {answered}/{total}{late}")));
        }
        if c.villages.len() > MAX_VILLAGES {
            lines.push(Line::Item(format!(
                "另有 {} 个村",
                c.villages.len() - MAX_VILLAGES
            )));
        }
    }
    if c.overdue > 0 {
        lines.push(Line::Text(format!(
            "超时未叫应 {} 人，请电话督促",
            c.overdue
        )));
    }
    lines.push(Line::Text(format!("更新于 {at}")));
    board(n, &mut lines);
    Doc {
        head: head(n, "【叫应进展】"),
        lines,
    }
}

/// Everyone answered.
pub fn all_answered(n: &Notice, c: &Counts, minutes: i64) -> Doc {
    let mut lines = vec![Line::Text(format!(
        "{} 人已全部叫应确认（发布后 {minutes} 分钟）",
        c.total
    ))];
    board(n, &mut lines);
    Doc {
        head: head(n, "【全部叫应】"),
        lines,
    }
}

/// The office's "send a test message".
pub fn test(office: &str, robot: &str, at: &str) -> Doc {
    Doc {
        head: "【测试】工作群机器人测试消息".into(),
        lines: vec![
            Line::Text(format!(
                "{office}烽火系统测试：“{robot}”设置正确。发布预警后，本群将收到通报和叫应进展。"
            )),
            Line::Text(format!("发送时间 {at}，本消息无需回复。")),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            title: "山洪灾害预警".into(),
            body: "各位：东坑村上游出现短时强降雨。\n\n请监测员加密巡查。\n沿溪群众准备转移。\n第四行不显示".into(),
            level: Some(4),
            exercise: false,
            msg_type: "Alert".into(),
            office: "湖上乡应急办".into(),
            sent_at: "7月28日 21:30".into(),
            answer_within: Some((30, "22:00".into())),
            villages: vec!["东坑村".into(), "西坑村".into()],
            board: Some("https://fh.example/alerts/7".into()),
        }
    }

    #[test]
    fn a_summary_in_markdown_and_text() {
        let c = Counts {
            total: 12,
            ..Counts::default()
        };
        let doc = summary(&notice(), &c);
        let md = write(&doc, Kind::Wecom, MsgType::Markdown);
        assert!(md.starts_with("### 【Ⅳ级（蓝色）】山洪灾害预警\n湖上乡应急办 7月28日 21:30 发布\n> 各位：东坑村上游"), "{md}");
        assert!(md.contains("- 涉及村：东坑村、西坑村"), "{md}");
        assert!(md.contains("叫应对象：12 人"), "{md}");
        assert!(
            md.contains("[查看叫应情况（应急办）](https://fh.example/alerts/7)"),
            "{md}"
        );
        assert!(!md.contains("第四行"), "{md}");
        let text = write(&doc, Kind::Feishu, MsgType::Text);
        assert!(text.starts_with("【Ⅳ级（蓝色）】山洪灾害预警\n"), "{text}");
        assert!(text.contains("「请监测员加密巡查。」"), "{text}");
        assert!(!text.contains('#') && !text.contains("]("), "{text}");
        let ding = write(&doc, Kind::Dingtalk, MsgType::Markdown);
        assert!(ding.contains("\n\n> 各位"), "{ding}");
    }

    #[test]
    fn payloads_are_each_providers_shape() {
        let mentions = vec!["13800138000".to_string()];
        let p = payload(Kind::Wecom, MsgType::Text, "x", &mentions);
        assert_eq!(
            p,
            json!({"msgtype": "text", "text": {"content": "x", "mentioned_mobile_list": ["13800138000"]}})
        );
        let p = payload(Kind::Wecom, MsgType::Markdown, "### a", &[]);
        assert_eq!(
            p,
            json!({"msgtype": "markdown", "markdown": {"content": "### a"}})
        );
        let p = payload(
            Kind::Dingtalk,
            MsgType::Markdown,
            "### 标题\n\n正文",
            &mentions,
        );
        assert_eq!(p["markdown"]["title"], "标题");
        assert_eq!(p["markdown"]["text"], "### 标题\n\n正文\n\n@13800138000");
        assert_eq!(p["at"]["atMobiles"], json!(["13800138000"]));
        let p = payload(Kind::Feishu, MsgType::Text, "x", &mentions);
        assert_eq!(p, json!({"msg_type": "text", "content": {"text": "x"}}));
        assert_eq!(MsgType::for_robot(Kind::Wecom, true), MsgType::Text);
        assert_eq!(MsgType::for_robot(Kind::Wecom, false), MsgType::Markdown);
        assert_eq!(MsgType::for_robot(Kind::Feishu, false), MsgType::Text);
    }

    #[test]
    fn posts_fit_the_providers_limits() {
        let mut n = notice();
        n.villages = (0..300).map(|i| format!("很长很长的村名第{i}村")).collect();
        n.title = "题".repeat(100);
        let c = Counts {
            total: 3000,
            villages: (0..300)
                .map(|i| (format!("很长很长的村名第{i}村"), 10, 2, 1))
                .collect(),
            ..Counts::default()
        };
        for (kind, t, max) in [
            (Kind::Wecom, MsgType::Text, 2048),
            (Kind::Wecom, MsgType::Markdown, 4096),
        ] {
            for doc in [summary(&n, &c), update(&n, &c, "21:45", true)] {
                let w = write(&doc, kind, t);
                assert!(w.len() <= max, "{} > {max}", w.len());
            }
        }
        assert!(write(&summary(&n, &c), Kind::Wecom, MsgType::Text).contains("等300个村"));
        assert_eq!(fit("一二三四", 7), "一…");
        assert_eq!(mobile("+8613800138000").as_deref(), Some("13800138000"));
        assert_eq!(mobile("+85291234567"), None);
        assert_eq!(mobile("+8605952328123"), None);
    }

    #[test]
    fn updates_and_the_last_post() {
        let c = Counts {
            total: 12,
            answered: 7,
            overdue: 2,
            villages: vec![("东坑村".into(), 5, 3, 1), ("西坑村".into(), 7, 4, 1)],
        };
        let w = write(
            &update(&notice(), &c, "21:45", true),
            Kind::Wecom,
            MsgType::Markdown,
        );
        assert!(w.starts_with("### 【叫应进展】【Ⅳ级（蓝色）】山洪灾害预警\n已叫应 7/12（58%）\n- 东坑村 3/5，超时未叫应 1 人\n- 西坑村 4/7，超时未叫应 1 人\n超时未叫应 2 人"), "{w}");
        assert_eq!(c.snapshot(), "7/12/2");
        let w = write(
            &update(&notice(), &c, "21:45", false),
            Kind::Feishu,
            MsgType::Text,
        );
        assert!(!w.contains("东坑村 3/5"), "{w}");
        let all = Counts {
            total: 12,
            answered: 12,
            ..Counts::default()
        };
        assert!(all.all_answered() && !c.all_answered());
        let w = write(
            &all_answered(&notice(), &all, 18),
            Kind::Feishu,
            MsgType::Text,
        );
        assert!(
            w.starts_with(
                "【全部叫应】【Ⅳ级（蓝色）】山洪灾害预警\n12 人已全部叫应确认（发布后 18 分钟）"
            ),
            "{w}"
        );
    }
}
