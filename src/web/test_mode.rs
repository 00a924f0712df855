//! The "演示/测试模式" banner: what in the configuration makes this daemon a
//! test set-up (SMS written to files instead of sent, e-mail off or written
//! to files, answer links pointing at this machine), worked out once at
//! start-up and put into every dashboard page's context, so that nobody takes
//! a spooled notice for a sent one.
//!
//! Only the signed-in dashboard shows it: the public pages (`/public/`) and
//! the answer page (`/a/{token}`) are read by villagers, who would take a
//! "test mode" notice for "this warning is not real".

use std::net::IpAddr;

use super::i18n::Lang;
use crate::config::Config;

/// One reason the set-up is not a live one, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// A stable key (tests and the page's `data-reason`).
    pub key: &'static str,
    pub zh: String,
    pub en: String,
}

/// Why answer links in notices would not open on a villager's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    /// 127.x, ::1, localhost, 0.0.0.0: this machine itself.
    Loopback(String),
    /// Plain http to a private (office network) address.
    Private(String),
}

/// What the configuration says about sending, computed once at start-up.
#[derive(Debug, Clone, Default)]
pub struct TestMode {
    pub reasons: Vec<Reason>,
    /// SMS are written to files (`data/outbox`), not sent.
    pub sms_spooled: bool,
    /// E-mails are written to files, not sent.
    pub email_spooled: bool,
    /// What is wrong with the answer links' address, if anything.
    pub link: Option<LinkProblem>,
}

impl TestMode {
    pub fn from_config(cfg: &Config) -> TestMode {
        let outbox = cfg.data_dir.join("outbox").display().to_string();
        let mut reasons = Vec::new();
        let sms_spooled = matches!(cfg.sms.provider.trim(), "spool" | "");
        if sms_spooled {
            reasons.push(Reason {
                key: "sms-spool",
                zh: format!("短信未真正发出：写入测试文件 {outbox}"),
                en: format!("SMS are not really sent: they are written to test files in {outbox}"),
            });
        } else if cfg.sms.provider.trim() == "off" {
            reasons.push(Reason {
                key: "sms-off",
                zh: "短信已关闭：不发送任何短信".into(),
                en: "SMS are switched off: no text message is sent".into(),
            });
        }
        let email_spooled = cfg.email.enabled && cfg.email.host.trim().is_empty();
        if !cfg.email.enabled {
            reasons.push(Reason {
                key: "email-off",
                zh: "邮件已关闭：不发送任何邮件".into(),
                en: "E-mail is switched off: no e-mail is sent".into(),
            });
        } else if email_spooled {
            reasons.push(Reason {
                key: "email-spool",
                zh: format!("邮件未真正发出：写入测试文件 {outbox}"),
                en: format!(
                    "E-mails are not really sent: they are written to test files in {outbox}"
                ),
            });
        }
        if cfg.voice.provider.trim() == "spool" {
            reasons.push(Reason {
                key: "voice-spool",
                zh: format!("语音电话未真正拨出：写入测试文件 {outbox}"),
                en: format!(
                    "Voice calls are not really made: they are written to test files in {outbox}"
                ),
            });
        }
        let link = link_problem(&cfg.public_base());
        if let Some(LinkProblem::Loopback(host)) = &link {
            reasons.push(Reason {
                key: "loopback",
                zh: format!("回复链接指向本机地址 {host}，村民手机打不开"),
                en: format!(
                    "Answer links point at this machine ({host}): villagers' phones cannot open them"
                ),
            });
        }
        TestMode {
            reasons,
            sms_spooled,
            email_spooled,
            link,
        }
    }

    /// Whether the banner shows.
    pub fn on(&self) -> bool {
        !self.reasons.is_empty()
    }

    /// The host answer links point at when it is this machine.
    pub fn link_loopback(&self) -> Option<&str> {
        match &self.link {
            Some(LinkProblem::Loopback(h)) => Some(h),
            _ => None,
        }
    }

    /// The host answer links point at when it is a private address over http.
    pub fn link_private(&self) -> Option<&str> {
        match &self.link {
            Some(LinkProblem::Private(h)) => Some(h),
            _ => None,
        }
    }

    /// Whether deliveries counted as done were only written to files.
    pub fn spooled(&self) -> bool {
        self.sms_spooled || self.email_spooled
    }

    /// What a count of finished deliveries is ("7 条已发出"), said
    /// truthfully when some or all of them were only written to files.
    pub fn done_words(&self, lang: Lang) -> &'static str {
        match (self.sms_spooled, self.email_spooled) {
            (false, false) => lang.t("条已发出", "sent"),
            (true, true) => lang.t(
                "条已写入测试文件（未真正发出）",
                "written to test files (not really sent)",
            ),
            (true, false) => lang.t(
                "条已处理（短信只写入测试文件，未真正发出）",
                "done (SMS only written to test files, not really sent)",
            ),
            (false, true) => lang.t(
                "条已处理（邮件只写入测试文件，未真正发出）",
                "done (e-mails only written to test files, not really sent)",
            ),
        }
    }
}

/// The host of a base URL such as `http://[::1]:8080/x`: `::1`.
fn host_of(base: &str) -> (bool, String) {
    let (https, rest) = match base.split_once("://") {
        Some((scheme, rest)) => (scheme.eq_ignore_ascii_case("https"), rest),
        None => (false, base),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    (https, host.to_ascii_lowercase())
}

/// Whether answer links under `base` would fail on a villager's phone.
pub fn link_problem(base: &str) -> Option<LinkProblem> {
    let (https, host) = host_of(base);
    if host == "localhost" || host.ends_with(".localhost") {
        return Some(LinkProblem::Loopback(host));
    }
    let ip: IpAddr = host.parse().ok()?;
    if ip.is_loopback() || ip.is_unspecified() {
        return Some(LinkProblem::Loopback(host));
    }
    let private = match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            // fc00::/7 unique local, fe80::/10 link-local.
            (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    };
    (private && !https).then_some(LinkProblem::Private(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_link_hosts() {
        let lo = |h: &str| Some(LinkProblem::Loopback(h.to_string()));
        assert_eq!(link_problem("http://127.0.0.1:8080"), lo("127.0.0.1"));
        assert_eq!(link_problem("http://127.3.4.5"), lo("127.3.4.5"));
        assert_eq!(link_problem("https://[::1]:443/x"), lo("::1"));
        assert_eq!(link_problem("http://LOCALHOST:1"), lo("localhost"));
        assert_eq!(link_problem("http://0.0.0.0:8080"), lo("0.0.0.0"));
        assert_eq!(
            link_problem("http://192.168.1.10:8080"),
            Some(LinkProblem::Private("192.168.1.10".into()))
        );
        assert_eq!(
            link_problem("http://[fd00::5]/"),
            Some(LinkProblem::Private("fd00::5".into()))
        );
        assert_eq!(link_problem("https://10.0.0.2"), None);
        assert_eq!(link_problem("https://yj.example.gov.cn"), None);
        assert_eq!(link_problem("http://203.0.113.9"), None);
    }

    #[test]
    fn reasons_from_the_configuration() {
        let mut cfg = Config {
            public_base_url: "http://127.0.0.1:8080".into(),
            ..Config::default()
        };
        let t = TestMode::from_config(&cfg);
        let keys: Vec<_> = t.reasons.iter().map(|r| r.key).collect();
        assert_eq!(keys, ["sms-spool", "email-spool", "loopback"]);
        assert!(
            t.reasons[2].zh.contains("村民手机打不开"),
            "{:?}",
            t.reasons
        );
        cfg.sms.provider = "aliyun".into();
        cfg.email.host = "smtp.example.gov.cn".into();
        cfg.public_base_url = "https://yj.example.gov.cn".into();
        let t = TestMode::from_config(&cfg);
        assert!(!t.on(), "{:?}", t.reasons);
        assert!(!t.spooled());
        cfg.email.enabled = false;
        let t = TestMode::from_config(&cfg);
        assert_eq!(t.reasons.len(), 1);
        assert_eq!(t.reasons[0].key, "email-off");
    }
}
