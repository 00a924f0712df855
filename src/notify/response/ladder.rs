//! An escalation ladder (叫应阶梯): what is done, rung by rung, while a person
//! has not answered a notice — e.g. “SMS; 10 minutes unanswered: call; 5
//! more: call again; 5 more: tell the next person up; 10 more: tell the
//! leader on duty”. A plan rule (`ladder = […]`) or the compose page gives
//! it; a notice without one escalates as `[escalation]` configures
//! (repeats, then the next person up).
//!
//! Each rung waits `after_minutes` from the one before (the first from the
//! notice) and fires only while the person is still silent. People a rung
//! tells climb the same ladder's sending rungs (they are called too), but
//! not its telling rungs: the first silent person's ladder tells the next.

use serde::{Deserialize, Serialize};

/// What one rung does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rung {
    /// The notice again by SMS.
    Sms,
    /// A voice call (press 1 to answer).
    Call,
    /// The notice again by every channel it went by.
    Repeat,
    /// Tell the next person up: the notice's chain of roles, else the
    /// village's escalation order, else the township duty officer.
    Next,
    /// Tell the township duty officer on shift (值班表), else whoever holds
    /// the role.
    DutyOfficer,
    /// Tell the leader on shift (带班领导), else whoever holds the role.
    LeaderOnDuty,
}

impl Rung {
    pub const ALL: [Rung; 6] = [
        Rung::Sms,
        Rung::Call,
        Rung::Repeat,
        Rung::Next,
        Rung::DutyOfficer,
        Rung::LeaderOnDuty,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Rung::Sms => "sms",
            Rung::Call => "call",
            Rung::Repeat => "repeat",
            Rung::Next => "next",
            Rung::DutyOfficer => "duty_officer",
            Rung::LeaderOnDuty => "leader_on_duty",
        }
    }
    pub fn parse(s: &str) -> Option<Rung> {
        let s = s.trim();
        Rung::ALL
            .into_iter()
            .find(|r| r.as_str() == s || r.label_zh() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Rung::Sms => "再发短信",
            Rung::Call => "拨打语音电话",
            Rung::Repeat => "重发通知",
            Rung::Next => "告知上一级",
            Rung::DutyOfficer => "告知值班员",
            Rung::LeaderOnDuty => "告知带班领导",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            Rung::Sms => "SMS again",
            Rung::Call => "voice call",
            Rung::Repeat => "notice again",
            Rung::Next => "tell the next person up",
            Rung::DutyOfficer => "tell the duty officer",
            Rung::LeaderOnDuty => "tell the leader on duty",
        }
    }
    /// Whether the rung tells someone else (rather than reaching the silent
    /// person again).
    pub fn tells(self) -> bool {
        matches!(self, Rung::Next | Rung::DutyOfficer | Rung::LeaderOnDuty)
    }
}

/// One rung and how long the person has been silent before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Minutes after the rung before (the first: after the notice), 1–1440.
    pub after_minutes: u32,
    pub then: Rung,
}

/// A whole ladder, at most [`MAX_STEPS`] rungs.
pub type Ladder = Vec<Step>;

pub const MAX_STEPS: usize = 12;

/// Why a ladder is refused: the message names the rung (from 1).
pub fn check(steps: &[Step]) -> Result<(), String> {
    if steps.len() > MAX_STEPS {
        return Err(format!("at most {MAX_STEPS} steps (最多{MAX_STEPS}级)"));
    }
    for (i, s) in steps.iter().enumerate() {
        if !(1..=1440).contains(&s.after_minutes) {
            return Err(format!(
                "step {}: after_minutes must be 1–1440 (第{}级的等待分钟数须为1–1440)",
                i + 1,
                i + 1
            ));
        }
    }
    Ok(())
}

/// A ladder written as the compose page and the CLI take it:
/// “10 call, 5 call, 5 next, 10 leader_on_duty” (minutes, then the rung;
/// Chinese labels and “，”/“；” also read).
pub fn parse_text(text: &str) -> Result<Ladder, String> {
    let mut steps = Vec::new();
    for (i, part) in text
        .split([',', '，', ';', '；', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let rest = part[digits.len()..]
            .trim_start_matches("分钟")
            .trim_start_matches("min")
            .trim();
        let (Ok(after_minutes), Some(then)) = (digits.parse::<u32>(), Rung::parse(rest)) else {
            return Err(format!(
                "step {} “{part}”: write minutes then one of {} (第{}级应写“分钟数 动作”)",
                i + 1,
                Rung::ALL.map(Rung::as_str).join(", "),
                i + 1
            ));
        };
        steps.push(Step {
            after_minutes,
            then,
        });
    }
    check(&steps)?;
    Ok(steps)
}

/// The ladder written back as [`parse_text`] reads it.
pub fn to_text(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{} {}", s.after_minutes, s.then.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ladder in words, for the notice's page: “10分钟未叫应：拨打语音电话 → …”.
pub fn words_zh(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{}分钟后{}", s.after_minutes, s.then.label_zh()))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The rung a recipient fires at `pos`, skipping the telling rungs for a
/// person who was told by a rung (they are reached again, they do not tell
/// others in turn): the index of the rung and the minutes from the rung
/// before it, counted from `pos`.
pub fn next_for(steps: &[Step], pos: usize, told: bool) -> Option<(usize, u32)> {
    let mut wait = 0;
    for (i, s) in steps.iter().enumerate().skip(pos) {
        wait += s.after_minutes;
        if told && s.then.tells() {
            continue;
        }
        return Some((i, wait));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(after_minutes: u32, then: Rung) -> Step {
        Step {
            after_minutes,
            then,
        }
    }

    #[test]
    fn text_reads_both_languages_and_round_trips() {
        let l = parse_text("10 call, 5 拨打语音电话，5分钟 next；10 leader_on_duty").unwrap();
        assert_eq!(
            l,
            [
                st(10, Rung::Call),
                st(5, Rung::Call),
                st(5, Rung::Next),
                st(10, Rung::LeaderOnDuty)
            ]
        );
        assert_eq!(parse_text(&to_text(&l)).unwrap(), l);
        assert!(parse_text("").unwrap().is_empty());
    }

    #[test]
    fn bad_rungs_and_waits_are_named() {
        let e = parse_text("10 call, 5 fax").unwrap_err();
        assert!(e.starts_with("step 2"), "{e}");
        let e = parse_text("0 call").unwrap_err();
        assert!(e.contains("1–1440"), "{e}");
        let many = vec!["1 sms"; MAX_STEPS + 1].join(",");
        assert!(parse_text(&many).is_err());
    }

    #[test]
    fn a_told_person_skips_telling_rungs_and_waits_add_up() {
        let l = [
            st(10, Rung::Call),
            st(5, Rung::Next),
            st(5, Rung::Call),
            st(10, Rung::LeaderOnDuty),
        ];
        assert_eq!(next_for(&l, 0, false), Some((0, 10)));
        assert_eq!(next_for(&l, 1, false), Some((1, 5)));
        assert_eq!(next_for(&l, 1, true), Some((2, 10)));
        assert_eq!(next_for(&l, 3, true), None);
        assert_eq!(next_for(&l, 4, false), None);
    }

    #[test]
    fn words_say_each_rung() {
        assert_eq!(
            words_zh(&[st(10, Rung::Call), st(5, Rung::LeaderOnDuty)]),
            "10分钟后拨打语音电话 → 5分钟后告知带班领导"
        );
    }
}
