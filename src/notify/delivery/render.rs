//! Turning a claimed delivery into the text a person reads: the SMS (fitted
//! to the configured number of parts, answer instruction never cut) and the
//! e-mail (plain text and simple HTML). Chinese first, English after.

use chrono::TimeZone;

use crate::config::Config;
use crate::notify::delivery::channel::{EmailMessage, SmsMessage, VoiceMessage};
use crate::notify::delivery::segments;
use crate::notify::intake::template;

/// Everything rendering needs about one delivery. Also read from a JSON
/// array of the columns in this order (`Db::fetch_rows`).
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub channel: String,
    pub address: String,
    pub purpose: String,
    pub attempts: i64,
    pub recipient_name: String,
    pub village_id: Option<i64>,
    pub answer_token: String,
    pub ack_due_at: Option<i64>,
    pub escalated_from_name: Option<String>,
    pub escalated_from_village: Option<i64>,
    pub title: String,
    pub body: String,
    pub level: Option<i64>,
    pub exercise: i64,
    pub plan: Option<String>,
    pub msg_type: String,
    /// 1 for a link sent before tokens were hashed: its token is the seed.
    pub legacy_token: i64,
    /// When the delivery was queued (UTC ms): it is retried for
    /// `delivery.retry_for_hours` from then.
    pub created_at: i64,
    /// For an escalation: who of the silent person's village has not
    /// answered, with numbers (`escalation::note_text`).
    pub escalation_note: Option<String>,
    /// The notice it belongs to (a closed one's claims are not sent).
    pub alert_id: i64,
    /// 1: the notice's own text says how to reply (a daily report): no
    /// answer instruction or link is added.
    pub own_reply: i64,
}

/// The columns of [`DELIVERY_SELECT`], in [`DeliveryRow`]'s order.
pub const DELIVERY_COLUMNS: &str = "id, channel, address, purpose, attempts, recipient_name, village_id, answer_token, \
    ack_due_at, escalated_from_name, escalated_from_village, title, body, level, exercise, plan, msg_type, legacy_token, created_at, escalation_note, alert_id, own_reply";

pub const DELIVERY_SELECT: &str = "SELECT d.id, d.channel, d.address, d.purpose, d.attempts, r.name AS recipient_name, \
    r.village_id, r.answer_token, r.ack_due_at, o.name AS escalated_from_name, o.village_id AS escalated_from_village, \
    a.title, a.body, a.level, a.exercise, a.plan, a.msg_type, \
    CASE WHEN r.answer_token_hash IS NULL THEN 1 ELSE 0 END AS legacy_token, d.created_at, r.escalation_note, d.alert_id, \
    a.own_reply FROM deliveries d JOIN alert_recipients r ON r.id = d.recipient_id JOIN alerts a ON a.id = d.alert_id \
    LEFT JOIN alert_recipients o ON o.id = r.escalated_from WHERE d.id IN ";

pub struct Renderer<'a> {
    pub cfg: &'a Config,
    pub villages: &'a std::collections::HashMap<i64, String>,
}

impl Renderer<'_> {
    fn village(&self, id: Option<i64>) -> String {
        match id {
            Some(v) => self.villages.get(&v).cloned().unwrap_or_default(),
            None => "乡级".into(),
        }
    }

    pub fn link(&self, d: &DeliveryRow) -> String {
        let token = if d.legacy_token != 0 {
            d.answer_token.clone()
        } else {
            self.cfg.answer_key.token(&d.answer_token)
        };
        format!("{}/a/{token}", self.cfg.public_base())
    }

    fn deadline(&self, d: &DeliveryRow) -> String {
        let tz = self.cfg.tz();
        d.ack_due_at
            .and_then(|ms| chrono::Utc.timestamp_millis_opt(ms).single())
            .map(|t| t.with_timezone(&tz).format("%m月%d日 %H:%M").to_string())
            .unwrap_or_default()
    }

    fn fill(&self, t: &str, d: &DeliveryRow) -> String {
        self.fill_with(t, d, &self.link(d))
    }

    /// Fills a template; `link` is what `{link}` becomes.
    fn fill_with(&self, t: &str, d: &DeliveryRow, link: &str) -> String {
        let value = |v: &str| match v {
            "name" => d.recipient_name.clone(),
            "village" => self.village(d.village_id),
            "level" => template::level_zh(d.level).to_string(),
            "level_en" => template::level_en(d.level).to_string(),
            "plan" => d.plan.clone().unwrap_or_default(),
            "title" => d.title.clone(),
            "deadline" => self.deadline(d),
            "link" => link.to_string(),
            "office" => self.cfg.office_name.clone(),
            _ => String::new(),
        };
        // Templates were checked when the notice was accepted.
        template::render(t, value).unwrap_or_else(|_| t.to_string())
    }

    /// The headline: drill mark, purpose, level, title.
    fn headline(&self, d: &DeliveryRow) -> String {
        let mut h = String::new();
        if d.exercise != 0 {
            h.push_str("[演练]");
        }
        match d.purpose.as_str() {
            "repeat" => h.push_str("[再次提醒]"),
            "escalation" => h.push_str("[催办]"),
            _ => {}
        }
        let title = self.fill(&d.title, d);
        match d.msg_type.as_str() {
            "Update" => h.push_str("[更新]"),
            // An all-clear's title says 解除 itself.
            "Cancel" if !title.contains("解除") => h.push_str("[解除]"),
            _ => {}
        }
        // Plan templates often name the level themselves.
        if d.level.is_some() && !title.contains(template::level_zh(d.level)) {
            h.push_str(template::level_zh(d.level));
        }
        h.push_str(&title);
        h
    }

    fn main_text(&self, d: &DeliveryRow) -> String {
        self.main_text_with(d, &self.link(d))
    }

    fn main_text_with(&self, d: &DeliveryRow, link: &str) -> String {
        let body = self.fill_with(&d.body, d, link);
        match (&d.purpose[..], &d.escalated_from_name) {
            // Whom to phone: the people not yet answered, with numbers.
            ("escalation", Some(_)) if let Some(list) = &d.escalation_note => format!(
                "{}尚未确认收到：{}。请电话督促落实。{}：{}",
                self.village(d.escalated_from_village),
                list,
                self.headline(d),
                body
            ),
            ("escalation", Some(who)) => format!(
                "{}（{}）未确认收到：{}。请督促落实。{}",
                who,
                self.village(d.escalated_from_village),
                self.headline(d),
                body
            ),
            _ => format!("{}：{}", self.headline(d), body),
        }
    }

    /// Headline and body as a person reads them (for the answer page).
    pub fn page(&self, d: &DeliveryRow) -> (String, String) {
        (self.headline(d), self.fill(&d.body, d))
    }

    pub fn sms(&self, d: &DeliveryRow) -> SmsMessage {
        let sig = &self.cfg.sms.signature;
        // The one answer instruction lives in the tail, which is never cut;
        // in the body `{link}` points there, so a shortened body cannot lose
        // it. An all-clear informs and asks for no answer.
        let tail = if self.asks_answer(d) && d.own_reply == 0 {
            match self.deadline(d) {
                due if due.is_empty() => format!(" 回复1确认收到 {}", self.link(d)),
                due => format!(" 请于{due}前回复1确认收到 {}", self.link(d)),
            }
        } else {
            String::new()
        };
        let main = self.main_text_with(d, "文末链接");
        let text = segments::fit(sig, &main, &tail, self.cfg.sms.max_parts.max(1));
        let without = text.strip_prefix(sig.as_str()).unwrap_or(&text).to_string();
        SmsMessage {
            reference: d.id.to_string(),
            to: d.address.clone(),
            text,
            text_without_signature: without,
        }
    }

    /// The call's spoken text (`voice::spoken`): the notice with no link, the level and
    /// numbers as said, cut to the providers' limit, ending with “收到请按1” when the provider
    /// can take a key (`asks_key`), else asking for the SMS reply.
    pub fn voice(&self, d: &DeliveryRow, asks_key: bool) -> VoiceMessage {
        use crate::notify::delivery::voice::spoken;
        let escalation = match (&d.purpose[..], &d.escalated_from_name) {
            ("escalation", Some(_)) if let Some(list) = &d.escalation_note => Some(format!(
                "{}尚未确认收到：{list}。请电话督促落实",
                self.village(d.escalated_from_village)
            )),
            ("escalation", Some(who)) => Some(format!(
                "{who}（{}）未确认收到，请督促落实",
                self.village(d.escalated_from_village)
            )),
            _ => None,
        };
        let deadline = d
            .ack_due_at
            .and_then(|ms| chrono::Utc.timestamp_millis_opt(ms).single())
            .map(|t| {
                use chrono::Timelike as _;
                let t = t.with_timezone(&self.cfg.tz());
                (t.hour(), t.minute())
            });
        let title = self.fill_with(&d.title, d, "");
        let body = self.fill_with(&d.body, d, "");
        let spoken = spoken::speak(&spoken::Parts {
            office: &self.cfg.office_name,
            exercise: d.exercise != 0,
            purpose: &d.purpose,
            msg_type: &d.msg_type,
            level: d.level,
            title: &title,
            body: &body,
            escalation,
            deadline,
            asks_key,
        });
        VoiceMessage {
            reference: d.id.to_string(),
            to: d.address.clone(),
            text: spoken.text,
            asks_key,
        }
    }

    /// Whether the text asks for an answer (叫应): every notice but an all-clear.
    fn asks_answer(&self, d: &DeliveryRow) -> bool {
        d.msg_type != "Cancel" && d.msg_type != "Ack"
    }

    pub fn email(&self, d: &DeliveryRow) -> EmailMessage {
        if !self.asks_answer(d) {
            let main = self.main_text_with(d, "");
            return EmailMessage {
                reference: d.id.to_string(),
                to: d.address.clone(),
                to_name: d.recipient_name.clone(),
                subject: format!("{} — {}", self.headline(d), self.cfg.office_name),
                text: format!("{main}\n\n本通知无需回复。\n\n— {}\n", self.cfg.office_name),
                html: format!(
                    "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body style=\"font-family:sans-serif\">\
                     <h2>{h}</h2><p>{b}</p><p>本通知无需回复。</p><p>— {o}</p></body></html>",
                    h = esc(&self.headline(d)),
                    b = esc(&self.fill_with(&d.body, d, "")).replace('\n', "<br>"),
                    o = esc(&self.cfg.office_name)
                ),
            };
        }
        let link = self.link(d);
        let main = self.main_text(d);
        let deadline = self.deadline(d);
        let due = if deadline.is_empty() {
            String::new()
        } else {
            format!("请于 {deadline} 前确认。")
        };
        let text = format!(
            "{main}\n\n请点击链接确认收到（叫应）：{link}\n{due}也可回复短信“1”确认。\n\n— {office}\n\nPlease confirm receipt: {link}\n",
            office = self.cfg.office_name
        );
        let html = format!(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body style=\"font-family:sans-serif\">\
             <h2>{h}</h2><p>{b}</p><p><a href=\"{l}\" style=\"font-size:1.3em\">确认收到（叫应） / Confirm receipt</a></p>\
             <p>{due}</p><p>— {o}</p></body></html>",
            h = esc(&self.headline(d)),
            b = esc(&self.fill(&d.body, d)).replace('\n', "<br>"),
            l = esc(&link),
            due = esc(&due),
            o = esc(&self.cfg.office_name)
        );
        EmailMessage {
            reference: d.id.to_string(),
            to: d.address.clone(),
            to_name: d.recipient_name.clone(),
            subject: format!("{} — {}", self.headline(d), self.cfg.office_name),
            text,
            html,
        }
    }
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
