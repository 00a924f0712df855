//! Transfer (转移) reports sent by village cadres over SMS: how many
//! households and people they have moved out of a danger zone, or back.
//!
//! The messages are typed on feature phones, so the parser is forgiving about
//! form (full-width characters, Chinese numerals, extra words, common typos)
//! and cautious about meaning: a number is only taken as a figure when a unit
//! (户, 人…) or a keyword right before it says what it counts, and a message
//! it cannot read is left to a person ([`Reply::Unreadable`]) rather than
//! guessed at.
//!
//! The grammar, in the order [`parse`] applies it:
//!
//! 1. Normalise: full-width to half-width, other spaces to ' ', line breaks
//!    to '\n', known typos fixed (`TYPOS`).
//! 2. A leading 更正 / 更改 / 纠正 marks a correction.
//! 3. Cut the text into tokens: clause breaks (，。；、!? and line breaks),
//!    keywords, numbers with their unit, labels (户数, 人数), filler words,
//!    anything else. A number without a unit counts people right after a
//!    keyword ("转移 12"), and is ignored elsewhere (dates, times, 第2组).
//!    Negated and refused verbs are one keyword (拒绝转移, 未返回), so the
//!    转移 inside them never counts as people moved.
//! 4. Cut each clause into phrases: a keyword followed by figures of its own
//!    starts a phrase ("已转移10户 剩余2户…"), as does a second figure of a
//!    kind the phrase already has ("已转移5户 2户外出"). A keyword with no
//!    figure after it qualifies the phrase before it ("2户外出").
//! 5. A phrase's most specific keyword names its category: refused, then
//!    away, remaining, moved, and last 其中 (a subset, ignored). So
//!    "剩余 2户 拒绝转移" is a refusal. A clause without any keyword continues
//!    the previous clause's category ("转移完毕，共12人5户").
//! 6. The first figure of each kind in each category is kept; later ones
//!    repeat or break it down. Figures are never added up: a sum counted
//!    twice would show people as safe who are not, while a figure too low
//!    shows in the confirmation and gets a call or a 更正.

/// Which way people are moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Out,
    Back,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub households: Option<u32>,
    pub persons: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// "更正 …": replaces the sender's last figure rather than adding a new one.
    pub correction: bool,
    pub direction: Direction,
    /// Moved (out: 已转移; back: 已返回).
    pub moved: Figures,
    /// Still to move, refusing (拒绝转移 / 不愿转移 / 不肯走).
    pub refused: Figures,
    /// Away from home, not to be moved (外出 / 不在家 / 外地).
    pub away: Figures,
    /// Still to move, reason not given (剩余 / 还有 / 未转移 without a refusal word).
    pub remaining: Figures,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// No transfer keyword: not a transfer report (e.g. "收到", "1", a question).
    NotTransfer,
    /// A transfer keyword but no figure could be read: kept for a person to read.
    Unreadable,
    Report(Report),
}

/// Reads a cadre's SMS reply. Never panics, whatever the input.
pub fn parse(text: &str) -> Reply {
    let text = normalise(text);
    let correction = is_correction(&text);
    let tokens = tokenize(&text);
    let keywords = || {
        tokens.iter().filter_map(|token| match token {
            Token::Keyword(keyword) => Some(*keyword),
            _ => None,
        })
    };

    if !keywords().any(|keyword| keyword.transfer) {
        // "更正 5户12人" answers our confirmation, which asks for 更正; dropping
        // it as chatter would leave a wrong figure on the board.
        return if correction {
            Reply::Unreadable
        } else {
            Reply::NotTransfer
        };
    }

    let tally = Tally::read(&tokens);
    let direction = tally
        .moved_direction
        .or_else(|| keywords().find_map(|keyword| keyword.direction))
        .unwrap_or(Direction::Out);
    let report = Report {
        correction,
        direction,
        moved: tally.moved.figures(),
        refused: tally.refused.figures(),
        away: tally.away.figures(),
        remaining: tally.remaining.figures(),
    };
    // "全部转移", "已全部转移完毕" end here too: the board cannot know how many
    // "all" is, so a person reads them.
    if report.has_figures() {
        Reply::Report(report)
    } else {
        Reply::Unreadable
    }
}

/// A single SMS segment holds 70 Chinese characters; past that the reply
/// costs two messages, so the hint is shortened or dropped first.
const SMS_CHARS: usize = 70;

impl Report {
    /// The SMS confirmation sent back, Chinese, short (< 70 chars when possible), e.g.
    /// "已记录：转移5户12人，拒绝转移2户。如有误请回复“更正 转移 X户Y人”。"
    /// (for Back: "已记录：返回…"; for a correction start with "已更正：").
    pub fn confirmation_zh(&self) -> String {
        let verb = match self.direction {
            Direction::Out => "转移",
            Direction::Back => "返回",
        };
        let head = if self.correction {
            "已更正："
        } else {
            "已记录："
        };
        let parts: Vec<String> = [
            (verb.to_owned(), &self.moved),
            (format!("拒绝{verb}"), &self.refused),
            ("外出".to_owned(), &self.away),
            (format!("未{verb}"), &self.remaining),
        ]
        .into_iter()
        .filter_map(|(label, figures)| figures.to_zh().map(|text| label + &text))
        .collect();
        let body = if parts.is_empty() {
            format!("{head}{verb}（无人数）。")
        } else {
            format!("{head}{}。", parts.join("，"))
        };

        let hints = [
            format!("如有误请回复“更正 {verb} X户Y人”。"),
            "有误请回复“更正”。".to_owned(),
        ];
        hints
            .iter()
            .map(|hint| format!("{body}{hint}"))
            .find(|message| message.chars().count() < SMS_CHARS)
            .unwrap_or(body)
    }

    fn has_figures(&self) -> bool {
        [&self.moved, &self.refused, &self.away, &self.remaining]
            .iter()
            .any(|figures| figures.households.is_some() || figures.persons.is_some())
    }
}

impl Figures {
    /// "5户12人", "5户", "12人"; none when there is nothing to say.
    fn to_zh(&self) -> Option<String> {
        match (self.households, self.persons) {
            (None, None) => None,
            (Some(h), None) => Some(format!("{h}户")),
            (None, Some(p)) => Some(format!("{p}人")),
            (Some(h), Some(p)) => Some(format!("{h}户{p}人")),
        }
    }
}

// ---------------------------------------------------------------------------
// Normalisation

/// Misspellings seen in replies: traditional or variant characters from
/// phones set to traditional input (轉移, 戶, 戸), and pinyin homophones
/// picked from the candidate list (转义 and 专移 for zhuanyi, 反回 for
/// fanhui). Applied after width folding, before anything reads the text.
const TYPOS: &[(&str, &str)] = &[
    ("轉移", "转移"),
    ("转义", "转移"),
    ("专移", "转移"),
    ("转以", "转移"),
    ("撤離", "撤离"),
    ("拒絕", "拒绝"),
    ("戶", "户"),
    ("戸", "户"),
    ("返迴", "返回"),
    ("反回", "返回"),
];

fn normalise(text: &str) -> String {
    let mut text: String = text.chars().filter_map(fold_char).collect();
    for (typo, fix) in TYPOS {
        if text.contains(typo) {
            text = text.replace(typo, fix);
        }
    }
    text.trim().to_owned()
}

fn fold_char(c: char) -> Option<char> {
    match c {
        // Full-width ASCII (０, Ａ, ，, ：, （) sits at a fixed offset from ASCII.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        '\u{3000}' => Some(' '),
        '\u{FF61}' => Some('。'),
        '\u{FF64}' => Some('、'),
        // A line break separates clauses as a comma does.
        '\n' | '\r' | '\u{2028}' | '\u{2029}' => Some('\n'),
        // Invisible characters would split a keyword or a number in two.
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => None,
        c if c.is_whitespace() || c.is_control() => Some(' '),
        c => Some(c),
    }
}

const CORRECTION_WORDS: &[&str] = &["更正", "更改", "纠正"];

/// 更正 at the start, after any spaces or punctuation ("【更正】…", "-更正").
fn is_correction(text: &str) -> bool {
    let head = text.trim_start_matches(|c: char| c.is_whitespace() || is_punctuation(c));
    CORRECTION_WORDS.iter().any(|word| head.starts_with(word))
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || "。、【】「」『』“”‘’《》〈〉…·—".contains(c)
}

/// Clause breaks (after normalisation). Not ':' — "转移:12" is one clause —
/// nor brackets — "共转移12人（5户）" is one clause.
fn is_separator(c: char) -> bool {
    matches!(c, ',' | '。' | ';' | '、' | '!' | '?' | '.' | '\n')
}

// ---------------------------------------------------------------------------
// Lexicon

/// What a keyword says about the figures it governs. Ordered from least to
/// most specific: when one phrase holds several keywords ("剩余 2户 拒绝转移")
/// the most specific one names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Category {
    /// 其中, 包括: a breakdown of a figure already given; not counted again.
    Subset,
    Moved,
    Remaining,
    Away,
    Refused,
}

#[derive(Debug, Clone, Copy)]
struct Keyword {
    category: Category,
    direction: Option<Direction>,
    /// Makes the message a transfer report. Words like 剩余 or 外出 alone do
    /// not: "外出2户" could be about anything.
    transfer: bool,
}

use Direction::{Back, Out};

/// Words that report people moved, and which way. 已回家 keeps its 已:
/// a bare 回家 is as often an instruction ("不要回家") as a report.
const MOVED_WORDS: &[(&str, Direction)] = &[
    ("转移", Out),
    ("撤离", Out),
    ("疏散", Out),
    ("返回", Back),
    ("回迁", Back),
    ("返家", Back),
    ("已回家", Back),
];

/// Verbs a refusal or a negation may govern (拒绝 + 转移, 未 + 返回).
/// Wider than MOVED_WORDS: "不肯走" is as plain as "不肯转移".
const VERBS: &[(&str, Option<Direction>)] = &[
    ("转移", Some(Out)),
    ("撤离", Some(Out)),
    ("疏散", Some(Out)),
    ("离开", Some(Out)),
    ("走", None),
    ("返回", Some(Back)),
    ("回迁", Some(Back)),
    ("返家", Some(Back)),
    ("回家", Some(Back)),
];

/// Before a verb: the people refuse to move.
const REFUSING: &[&str] = &[
    "拒绝",
    "拒不",
    "不愿意",
    "不愿",
    "不肯",
    "不同意",
    "不想",
    "不",
];

/// Before a verb: not moved yet, no reason given (待 = waiting to be moved;
/// 不能 / 无法 = cannot be, e.g. bedridden, which is not a refusal).
const NOT_YET: &[&str] = &[
    "未",
    "未能",
    "没能",
    "尚未",
    "仍未",
    "还未",
    "没",
    "没有",
    "还没",
    "还没有",
    "待",
    "不能",
    "无法",
];

/// Category words that stand without a verb ("2户拒绝", "剩余3户", "外出2户").
const CATEGORY_WORDS: &[(&str, Category)] = &[
    ("拒绝", Category::Refused),
    ("不愿意", Category::Refused),
    ("不愿", Category::Refused),
    ("不肯", Category::Refused),
    ("不同意", Category::Refused),
    ("剩余", Category::Remaining),
    ("剩下", Category::Remaining),
    ("还剩", Category::Remaining),
    ("剩", Category::Remaining),
    ("还有", Category::Remaining),
    ("尚有", Category::Remaining),
    ("仍有", Category::Remaining),
    ("外出", Category::Away),
    ("不在家", Category::Away),
    ("外地", Category::Away),
    ("其中", Category::Subset),
    ("包括", Category::Subset),
    ("包含", Category::Subset),
];

/// Words that may stand between a keyword or label and a bare number
/// without changing what it counts: "转移 12", "转移:12", "转移群众 12".
const FILLERS: &[&str] = &[
    " ", ":", "了", "共计", "合计", "共", "计", "群众", "人员", "村民", "为",
];

/// Words that name the unit of the bare number after them, as in a
/// form-like reply: "转移人数：15，户数：5".
const LABELS: &[(&str, Unit)] = &[("户数", Unit::Households), ("人数", Unit::Persons)];

/// The longest keyword starting `text`, and its length in bytes.
fn match_keyword(text: &str) -> Option<(Keyword, usize)> {
    let compounds = [
        (REFUSING, Category::Refused),
        (NOT_YET, Category::Remaining),
    ]
    .into_iter()
    .flat_map(|(prefixes, category)| prefixes.iter().map(move |p| (*p, category)))
    .filter_map(|(prefix, category)| {
        let after = text.strip_prefix(prefix)?;
        VERBS.iter().find_map(|(verb, direction)| {
            let keyword = Keyword {
                category,
                direction: *direction,
                transfer: true,
            };
            after
                .starts_with(verb)
                .then_some((keyword, prefix.len() + verb.len()))
        })
    });
    let moved = MOVED_WORDS.iter().map(|(word, direction)| {
        let keyword = Keyword {
            category: Category::Moved,
            direction: Some(*direction),
            transfer: true,
        };
        (*word, keyword)
    });
    let categories = CATEGORY_WORDS.iter().map(|(word, category)| {
        let keyword = Keyword {
            category: *category,
            direction: None,
            transfer: false,
        };
        (*word, keyword)
    });
    let words = moved
        .chain(categories)
        .filter(|(word, _)| text.starts_with(word))
        .map(|(word, keyword)| (keyword, word.len()));

    // The longest match, so that 拒绝转移 wins over 拒绝 and 剩余 over 剩.
    // min_by_key on Reverse keeps the first of equals: compounds come first.
    compounds
        .chain(words)
        .min_by_key(|&(_, len)| std::cmp::Reverse(len))
}

fn match_label(text: &str) -> Option<(Unit, usize)> {
    LABELS
        .iter()
        .find(|(word, _)| text.starts_with(word))
        .map(|(word, unit)| (*unit, word.len()))
}

fn match_filler(text: &str) -> Option<usize> {
    FILLERS
        .iter()
        .filter(|word| text.starts_with(*word))
        .map(|word| word.len())
        .max()
}

// ---------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Households,
    Persons,
}

fn unit_of(c: char) -> Option<Unit> {
    match c {
        '户' => Some(Unit::Households),
        // 口 as in "5口人"; 位 as in "群众12位".
        '人' | '名' | '口' | '位' => Some(Unit::Persons),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
struct Number {
    /// None when the number does not fit u32 or is not a number we dare
    /// read ("三四户", three or four households).
    value: Option<u32>,
    unit: Option<Unit>,
    /// Without a unit, whether it ends where a word would ("转移 12", "转移12，")
    /// rather than running into one ("转移10余人", "转移一下").
    standalone: bool,
}

#[derive(Debug, Clone, Copy)]
enum Token {
    Break,
    Keyword(Keyword),
    Number(Number),
    /// 户数, 人数: the unit of a bare number that follows.
    Label(Unit),
    Filler,
    Word,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = text;
    let mut previous = None;
    while let Some(first) = rest.chars().next() {
        let (token, len) = next_token(rest, first, previous);
        tokens.push(token);
        previous = rest[..len].chars().next_back();
        rest = &rest[len..];
    }
    tokens
}

/// The token at the start of `text` (which starts with `first`), and its
/// length in bytes; always at least one character, so tokenising ends.
fn next_token(text: &str, first: char, previous: Option<char>) -> (Token, usize) {
    if is_separator(first) {
        return (Token::Break, first.len_utf8());
    }
    if let Some((keyword, len)) = match_keyword(text) {
        return (Token::Keyword(keyword), len);
    }
    if let Some((unit, len)) = match_label(text) {
        return (Token::Label(unit), len);
    }
    if let Some(len) = match_filler(text) {
        return (Token::Filler, len);
    }
    if let Some((number, len)) = read_number(text) {
        // "第2组": an ordinal, not a count.
        let token = if previous == Some('第') {
            Token::Word
        } else {
            Token::Number(number)
        };
        return (token, len);
    }
    (Token::Word, first.len_utf8())
}

/// A run of digits or of Chinese numerals (never mixed), with the unit after
/// it if any: "12人", "5 户", "十二个人".
fn read_number(text: &str) -> Option<(Number, usize)> {
    let first = text.chars().next()?;
    let (value, len) = if first.is_ascii_digit() {
        let len = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        // Only digits here, so parse fails only on overflow.
        (text[..len].parse::<u32>().ok(), len)
    } else if is_chinese_numeral(first) {
        let len = text.find(|c| !is_chinese_numeral(c)).unwrap_or(text.len());
        (parse_chinese_numeral(&text[..len]), len)
    } else {
        return None;
    };

    let after = &text[len..];
    let unit_text = after.trim_start_matches(' ');
    let unit_text = unit_text.strip_prefix('个').unwrap_or(unit_text);
    let unit_text = unit_text.trim_start_matches(' ');
    // "5 人数12": 人 there starts the next label, not this number's unit.
    if let Some(c) = unit_text.chars().next()
        && let Some(unit) = unit_of(c)
        && match_label(unit_text).is_none()
    {
        let number = Number {
            value,
            unit: Some(unit),
            standalone: false,
        };
        return Some((number, text.len() - unit_text.len() + c.len_utf8()));
    }

    let standalone = after
        .chars()
        .next()
        .is_none_or(|c| c == ' ' || is_separator(c) || c.is_ascii_punctuation());
    let number = Number {
        value,
        unit: None,
        standalone,
    };
    Some((number, len))
}

fn is_chinese_numeral(c: char) -> bool {
    "零〇一二两三四五六七八九十百千".contains(c)
}

fn chinese_digit(c: char) -> Option<u32> {
    let digit = match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    };
    Some(digit)
}

/// 0–9999 written in Chinese numerals: 十 = 10, 十二 = 12, 二十五 = 25,
/// 一百零五 = 105, 两千 = 2000. A digit after 百 or 千 with no 零 before it is
/// spoken shorthand for the next place down: 三百二 = 320, 两千五 = 2500.
/// Anything else (三四 "three or four", 十十, 百) is not read: None.
fn parse_chinese_numeral(run: &str) -> Option<u32> {
    let mut total = 0;
    // A digit still waiting for its multiplier.
    let mut pending: Option<u32> = None;
    let mut last_multiplier: Option<u32> = None;
    let mut after_zero = false;
    for c in run.chars() {
        let multiplier = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            '零' | '〇' => {
                if pending.is_some() {
                    return None;
                }
                after_zero = true;
                continue;
            }
            _ => {
                if pending.is_some() {
                    return None;
                }
                pending = Some(chinese_digit(c)?);
                continue;
            }
        };
        // Places go down: 一千二百, never 二百一千 or 十十.
        if last_multiplier.is_some_and(|last| multiplier >= last) {
            return None;
        }
        let digit = match pending.take() {
            Some(digit) => digit,
            // 十二, 一百十: 十 alone means one ten.
            None if multiplier == 10 => 1,
            None => return None,
        };
        total += digit * multiplier;
        last_multiplier = Some(multiplier);
        after_zero = false;
    }
    if let Some(digit) = pending {
        total += match last_multiplier {
            Some(multiplier) if multiplier > 10 && !after_zero => digit * multiplier / 10,
            _ => digit,
        };
    }
    Some(total)
}

// ---------------------------------------------------------------------------
// Clauses and phrases

#[derive(Debug, Clone, Copy)]
struct Figure {
    unit: Unit,
    value: Option<u32>,
}

/// A clause reduced to what matters: its keywords and its figures, in order.
#[derive(Debug, Clone, Copy)]
enum Item {
    Keyword(Keyword),
    Figure(Figure),
}

fn items(clause: &[Token]) -> Vec<Item> {
    let mut items = Vec::new();
    // What a bare number here would count: people right after a keyword
    // ("转移 12", "转移:12"), the named unit right after a label ("户数：5").
    let mut bare_unit = None;
    for token in clause {
        match *token {
            Token::Keyword(keyword) => items.push(Item::Keyword(keyword)),
            Token::Number(Number {
                value,
                unit,
                standalone,
            }) => {
                let unit = unit.or(if standalone { bare_unit } else { None });
                if let Some(unit) = unit {
                    items.push(Item::Figure(Figure { unit, value }));
                }
            }
            _ => {}
        }
        bare_unit = match *token {
            Token::Keyword(_) => Some(Unit::Persons),
            Token::Label(unit) => Some(unit),
            Token::Filler => bare_unit,
            _ => None,
        };
    }
    items
}

/// Figures and the keywords that govern them.
#[derive(Debug, Default)]
struct Phrase {
    keywords: Vec<Keyword>,
    figures: Vec<Figure>,
}

/// Who governs a phrase: its category, and which way its verb points.
#[derive(Debug, Clone, Copy)]
struct Governor {
    category: Category,
    direction: Option<Direction>,
}

impl Phrase {
    fn governor(&self) -> Option<Governor> {
        let category = self.keywords.iter().map(|k| k.category).max()?;
        // The last verb is the predicate: "转移的群众已返回12人" reports returns.
        let direction = self.keywords.iter().rev().find_map(|k| k.direction);
        Some(Governor {
            category,
            direction,
        })
    }
}

fn phrases(items: &[Item]) -> Vec<Phrase> {
    let mut phrases = Vec::new();
    let mut current = Phrase::default();
    for (i, item) in items.iter().enumerate() {
        let starts_phrase = match item {
            // "已转移10户 剩余2户": a keyword with figures of its own after it
            // starts a phrase; one without qualifies the figures before it
            // ("2户外出", "剩余 2户 拒绝转移").
            Item::Keyword(_) => {
                !current.keywords.is_empty()
                    && !current.figures.is_empty()
                    && items[i + 1..]
                        .iter()
                        .any(|item| matches!(item, Item::Figure(_)))
            }
            // "已转移5户 2户外出": a second figure of a kind starts a phrase.
            Item::Figure(figure) => current.figures.iter().any(|f| f.unit == figure.unit),
        };
        if starts_phrase {
            phrases.push(std::mem::take(&mut current));
        }
        match item {
            Item::Keyword(keyword) => current.keywords.push(*keyword),
            Item::Figure(figure) => current.figures.push(*figure),
        }
    }
    phrases.push(current);
    phrases
}

/// The first figure of each kind; `Some(None)` when that figure was there
/// but could not be read, so that a later one does not take its place.
#[derive(Debug, Default)]
struct Counts {
    households: Option<Option<u32>>,
    persons: Option<Option<u32>>,
}

impl Counts {
    fn add(&mut self, figure: Figure) {
        let slot = match figure.unit {
            Unit::Households => &mut self.households,
            Unit::Persons => &mut self.persons,
        };
        slot.get_or_insert(figure.value);
    }

    fn figures(&self) -> Figures {
        Figures {
            households: self.households.flatten(),
            persons: self.persons.flatten(),
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    moved: Counts,
    refused: Counts,
    away: Counts,
    remaining: Counts,
    /// The direction of the first figure of people moved.
    moved_direction: Option<Direction>,
}

impl Tally {
    fn read(tokens: &[Token]) -> Tally {
        let mut tally = Tally::default();
        // The governor of the last phrase that had a keyword.
        let mut carried: Option<Governor> = None;
        for clause in tokens.split(|token| matches!(token, Token::Break)) {
            let phrases = phrases(&items(clause));
            let has_keyword = phrases.iter().any(|phrase| !phrase.keywords.is_empty());
            for phrase in &phrases {
                let governor = match phrase.governor() {
                    Some(governor) => {
                        carried = Some(governor);
                        governor
                    }
                    // A clause without keywords continues the one before
                    // ("转移完毕，共12人"). In a clause with keywords, figures
                    // without one are repeats ("转移5户3户"): dropped.
                    None if !has_keyword => match carried {
                        Some(governor) => governor,
                        None => continue,
                    },
                    None => continue,
                };
                tally.record(governor, &phrase.figures);
            }
        }
        tally
    }

    fn record(&mut self, governor: Governor, figures: &[Figure]) {
        if figures.is_empty() {
            return;
        }
        let counts = match governor.category {
            Category::Subset => return,
            Category::Moved => {
                if self.moved_direction.is_none() {
                    self.moved_direction = governor.direction;
                }
                &mut self.moved
            }
            Category::Refused => &mut self.refused,
            Category::Away => &mut self.away,
            Category::Remaining => &mut self.remaining,
        };
        for figure in figures {
            counts.add(*figure);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Figures = Figures {
        households: None,
        persons: None,
    };

    fn hp(households: u32, persons: u32) -> Figures {
        Figures {
            households: Some(households),
            persons: Some(persons),
        }
    }

    fn h(households: u32) -> Figures {
        Figures {
            households: Some(households),
            persons: None,
        }
    }

    fn p(persons: u32) -> Figures {
        Figures {
            households: None,
            persons: Some(persons),
        }
    }

    /// A report of people moved out, nothing else.
    fn out(moved: Figures) -> Report {
        Report {
            correction: false,
            direction: Direction::Out,
            moved,
            refused: NONE,
            away: NONE,
            remaining: NONE,
        }
    }

    fn back(moved: Figures) -> Report {
        Report {
            direction: Direction::Back,
            ..out(moved)
        }
    }

    fn fix(report: Report) -> Report {
        Report {
            correction: true,
            ..report
        }
    }

    fn report_of(text: &str) -> Report {
        match parse(text) {
            Reply::Report(report) => report,
            other => panic!("{text:?}: expected a report, got {other:?}"),
        }
    }

    fn check(cases: Vec<(&str, Reply)>) {
        for (text, want) in cases {
            assert_eq!(parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn reads_moved_figures() {
        use Reply::Report as R;
        check(vec![
            ("已转移 5户12人", R(out(hp(5, 12)))),
            ("转移 12", R(out(p(12)))),
            ("转移:12", R(out(p(12)))),
            ("转移：12", R(out(p(12)))),
            ("已转移5户 12人。", R(out(hp(5, 12)))),
            ("已转移５户１２人", R(out(hp(5, 12)))),
            ("　已转移　５户　１２人　", R(out(hp(5, 12)))),
            ("已转移五户十二人", R(out(hp(5, 12)))),
            ("已转移 两户 七人", R(out(hp(2, 7)))),
            ("已转移 一百零五 人", R(out(p(105)))),
            ("已转移十二个人", R(out(p(12)))),
            ("转移完毕，共12人5户", R(out(hp(5, 12)))),
            ("已转移12人5户", R(out(hp(5, 12)))),
            ("已转移5户 共12人", R(out(hp(5, 12)))),
            ("共转移群众12人（5户）", R(out(hp(5, 12)))),
            ("12人5户已转移", R(out(hp(5, 12)))),
            ("已安全转移群众十二人", R(out(p(12)))),
            ("已撤离3户8人", R(out(hp(3, 8)))),
            ("已疏散群众20人", R(out(p(20)))),
            ("已转移5户.12人", R(out(hp(5, 12)))),
            ("已转移12人，其中老人3人", R(out(p(12)))),
            ("已转移12人，其中老人3人，儿童2人", R(out(p(12)))),
            ("已转移12人（其中老人3人）", R(out(p(12)))),
            ("转移5户3户", R(out(h(5)))),
            ("5户3户已转移", R(out(h(3)))),
            ("已转移5户12人，3户10人", R(out(hp(5, 12)))),
            ("6月5日14:30已转移12人", R(out(p(12)))),
            ("第2组已转移3户", R(out(h(3)))),
            ("转移 5 户 12 人", R(out(hp(5, 12)))),
            ("转移人数：15，户数：5", R(out(hp(5, 15)))),
            ("已转移户数5 人数12", R(out(hp(5, 12)))),
            ("共15户，其中已转移12户", R(out(h(12)))),
        ]);
    }

    #[test]
    fn fixes_typos_and_traditional_characters() {
        use Reply::Report as R;
        check(vec![
            ("转义5户12人", R(out(hp(5, 12)))),
            ("专移5户12人", R(out(hp(5, 12)))),
            ("转以3户", R(out(h(3)))),
            ("已转移5戶12人", R(out(hp(5, 12)))),
            ("已轉移5戸12人", R(out(hp(5, 12)))),
            ("已撤離3户", R(out(h(3)))),
            ("已返迴3户", R(back(h(3)))),
            ("反回2户5人", R(back(hp(2, 5)))),
        ]);
    }

    #[test]
    fn attributes_each_clause_to_its_keyword() {
        use Reply::Report as R;
        check(vec![
            (
                "剩余 2户 拒绝转移",
                R(Report {
                    refused: h(2),
                    ..out(NONE)
                }),
            ),
            (
                "拒绝转移1户3人",
                R(Report {
                    refused: hp(1, 3),
                    ..out(NONE)
                }),
            ),
            (
                "3户不肯走",
                R(Report {
                    refused: h(3),
                    ..out(NONE)
                }),
            ),
            (
                "还有3户未转移",
                R(Report {
                    remaining: h(3),
                    ..out(NONE)
                }),
            ),
            (
                "剩余3户未转移",
                R(Report {
                    remaining: h(3),
                    ..out(NONE)
                }),
            ),
            (
                "已转移10户25人，剩余2户拒绝转移",
                R(Report {
                    refused: h(2),
                    ..out(hp(10, 25))
                }),
            ),
            (
                "已转移10户25人剩余2户拒绝转移",
                R(Report {
                    refused: h(2),
                    ..out(hp(10, 25))
                }),
            ),
            (
                "已转移8户，外出2户",
                R(Report {
                    away: h(2),
                    ..out(h(8))
                }),
            ),
            (
                "已转移8户\n外出2户",
                R(Report {
                    away: h(2),
                    ..out(h(8))
                }),
            ),
            (
                "外出 2户，已转移5户",
                R(Report {
                    away: h(2),
                    ..out(h(5))
                }),
            ),
            (
                "2户外出，已转移5户12人",
                R(Report {
                    away: h(2),
                    ..out(hp(5, 12))
                }),
            ),
            (
                "已转移5户12人剩2户不在家",
                R(Report {
                    away: h(2),
                    ..out(hp(5, 12))
                }),
            ),
            (
                "已转移12户30人。3户不愿转移，2户外出打工，还有1户未转移",
                R(Report {
                    refused: h(3),
                    away: h(2),
                    remaining: h(1),
                    ..out(hp(12, 30))
                }),
            ),
            (
                "共15户，其中已转移12户，3户拒绝转移",
                R(Report {
                    refused: h(3),
                    ..out(h(12))
                }),
            ),
        ]);
    }

    #[test]
    fn reads_returns() {
        use Reply::Report as R;
        check(vec![
            ("已返回 5户12人", R(back(hp(5, 12)))),
            ("返回 12", R(back(p(12)))),
            ("已回家5户12人", R(back(hp(5, 12)))),
            ("回迁3户", R(back(h(3)))),
            ("转移的群众已返回12人", R(back(p(12)))),
            (
                "道路中断，3户未能返回",
                R(Report {
                    remaining: h(3),
                    ..back(NONE)
                }),
            ),
            (
                "已返回10户，还有2户未返回",
                R(Report {
                    remaining: h(2),
                    ..back(h(10))
                }),
            ),
        ]);
    }

    #[test]
    fn reads_corrections() {
        use Reply::Report as R;
        check(vec![
            ("更正 转移 10", R(fix(out(p(10))))),
            ("更正：已转移6户15人", R(fix(out(hp(6, 15))))),
            ("【更正】已转移6户15人", R(fix(out(hp(6, 15))))),
            (" ，纠正 返回 3户", R(fix(back(h(3))))),
            ("更改：转移8户20人", R(fix(out(hp(8, 20))))),
            // Not at the start: an ordinary report.
            ("已转移6户15人，更正", R(out(hp(6, 15)))),
            // Answers our confirmation without the keyword: a person reads it.
            ("更正 5户12人", Reply::Unreadable),
        ]);
    }

    #[test]
    fn tells_chatter_from_unreadable_reports() {
        check(vec![
            ("收到", Reply::NotTransfer),
            ("1", Reply::NotTransfer),
            ("12", Reply::NotTransfer),
            ("", Reply::NotTransfer),
            ("   ", Reply::NotTransfer),
            ("明天几点开会？", Reply::NotTransfer),
            ("外出2户", Reply::NotTransfer),
            ("转移工作正在进行", Reply::Unreadable),
            ("全部转移", Reply::Unreadable),
            ("全部撤离", Reply::Unreadable),
            ("已全部转移完毕", Reply::Unreadable),
            ("请问要转移吗？", Reply::Unreadable),
            ("转移一下", Reply::Unreadable),
            ("转移10余人", Reply::Unreadable),
            // Three or four households: not a figure to put on the board.
            ("还有三四户不肯走", Reply::Unreadable),
            ("已转移，其中老人3人", Reply::Unreadable),
        ]);
    }

    #[test]
    fn figures_too_large_are_none() {
        let report = report_of("已转移5户99999999999人");
        assert_eq!(report.moved, h(5));
        assert_eq!(report_of(&format!("转移{}人", u32::MAX)).moved, p(u32::MAX));
        assert_eq!(parse("转移99999999999"), Reply::Unreadable);
        assert_eq!(
            parse(&format!("转移{}户", "9".repeat(5000))),
            Reply::Unreadable
        );
        // An unreadable figure still is the first of its kind.
        assert_eq!(parse("已转移99999999999人，12人"), Reply::Unreadable);
    }

    #[test]
    fn reads_chinese_numerals() {
        for (text, want) in [
            ("零", Some(0)),
            ("一", Some(1)),
            ("两", Some(2)),
            ("十", Some(10)),
            ("十二", Some(12)),
            ("二十", Some(20)),
            ("二十五", Some(25)),
            ("一百", Some(100)),
            ("一百零五", Some(105)),
            ("一百一十", Some(110)),
            ("一百十", Some(110)),
            ("两百", Some(200)),
            ("三百二", Some(320)),
            ("三百二十", Some(320)),
            ("三百零二", Some(302)),
            ("两千五", Some(2500)),
            ("一千零二十", Some(1020)),
            ("九千九百九十九", Some(9999)),
            ("三四", None),
            ("十十", None),
            ("百", None),
            ("二百一千", None),
            ("五零五", None),
            ("一〇五", None),
        ] {
            assert_eq!(parse_chinese_numeral(text), want, "{text}");
        }
    }

    #[test]
    fn confirms_moves_out() {
        let report = report_of("已转移5户12人，剩余2户拒绝转移");
        assert_eq!(
            report.confirmation_zh(),
            "已记录：转移5户12人，拒绝转移2户。如有误请回复“更正 转移 X户Y人”。"
        );
        let report = report_of("已转移12户30人。3户不愿转移，2户外出，还有1户未转移");
        let text = report.confirmation_zh();
        assert_eq!(
            text,
            "已记录：转移12户30人，拒绝转移3户，外出2户，未转移1户。如有误请回复“更正 转移 X户Y人”。"
        );
        assert!(text.chars().count() < SMS_CHARS);
    }

    #[test]
    fn confirms_returns_and_corrections() {
        assert_eq!(
            report_of("已返回5户12人").confirmation_zh(),
            "已记录：返回5户12人。如有误请回复“更正 返回 X户Y人”。"
        );
        assert_eq!(
            report_of("更正：已转移6户15人").confirmation_zh(),
            "已更正：转移6户15人。如有误请回复“更正 转移 X户Y人”。"
        );
    }

    #[test]
    fn the_reply_our_confirmation_asks_for_parses() {
        let hint = report_of("已转移5户12人").confirmation_zh();
        assert!(hint.contains("更正 转移 X户Y人"));
        assert_eq!(report_of("更正 转移 6户15人"), fix(out(hp(6, 15))));
    }

    #[test]
    fn long_confirmations_shed_the_hint() {
        let big = hp(u32::MAX, u32::MAX);
        let report = Report {
            refused: big.clone(),
            away: big.clone(),
            remaining: big.clone(),
            ..out(big)
        };
        let text = report.confirmation_zh();
        assert!(text.starts_with("已记录：转移4294967295户4294967295人，"));
        assert!(!text.contains("更正"));
        assert_eq!(
            out(NONE).confirmation_zh(),
            "已记录：转移（无人数）。如有误请回复“更正 转移 X户Y人”。"
        );
    }

    /// A small deterministic generator, so the test needs no dependency.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }

        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[self.next() as usize % from.len()]
        }
    }

    #[test]
    fn never_panics() {
        let pool: Vec<char> = "转移返回撤离已回家户戶人名口个第拒绝不肯走剩余还有未外出其中更正\
             零〇一二两三四五六七八九十百千0123456789０１２３，,。、：:；!！（）\
             \u{3000} \n\r\t\u{0}\u{7}\u{200B}\u{FEFF}😀🌊é"
            .chars()
            .collect();
        let mut rng = Lcg(20240601);
        for round in 0..300 {
            let text: String = (0..2000)
                .map(|_| {
                    if round % 3 == 0 {
                        // Any scalar value at all.
                        char::from_u32(rng.next() % 0x11_0000).unwrap_or('?')
                    } else {
                        rng.pick(&pool)
                    }
                })
                .collect();
            if let Reply::Report(report) = parse(&text) {
                let _ = report.confirmation_zh();
            }
        }
    }

    #[test]
    fn random_cjk_and_digits_do_not_panic() {
        let mut rng = Lcg(7);
        let text: String = (0..2000)
            .map(|_| match rng.next() % 3 {
                0 => char::from(b'0' + (rng.next() % 10) as u8),
                _ => char::from_u32(0x4E00 + rng.next() % 0x5200).unwrap_or('转'),
            })
            .collect();
        assert_eq!(text.chars().count(), 2000);
        let _ = parse(&text);
        let _ = parse(&format!("转移{text}"));
    }
}
