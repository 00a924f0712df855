//! Where a problem is: byte offsets as 1-based lines and character columns,
//! the spans of every key and value by path, and the `Checker` that records
//! each problem at the value at fault.

use std::collections::HashMap;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use crate::plans::model::Villages;
use crate::plans::{Problem, VillageRef};
use crate::registry::roles;

/// Byte offset → line and character column.
pub(super) struct Source<'a> {
    file: &'a str,
    pub(super) text: &'a str,
    line_starts: Vec<usize>,
}

impl Source<'_> {
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|s| *s <= offset);
        let start = self
            .line_starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(0);
        (line, self.text[start..offset].chars().count() + 1)
    }
}

/// Spans of every key and value, by path (`levels[0].notify[1].roles[2]`).
#[derive(Default)]
pub(super) struct Spans {
    pub(super) values: HashMap<String, Range<usize>>,
    pub(super) keys: HashMap<String, Range<usize>>,
}

pub(super) fn index(spans: &mut Spans, path: String, v: &Spanned<DeValue<'_>>) {
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, x) in t.iter() {
                let p = if path.is_empty() {
                    k.get_ref().to_string()
                } else {
                    format!("{path}.{}", k.get_ref())
                };
                spans.keys.insert(p.clone(), k.span());
                index(spans, p, x);
            }
        }
        DeValue::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                index(spans, format!("{path}[{i}]"), x);
            }
        }
        _ => {}
    }
    spans.values.insert(path, v.span());
}

/// The path one step up: `a.b[2]` → `a.b` → `a`.
pub(super) fn parent(path: &str) -> Option<&str> {
    if path.ends_with(']') {
        path.rfind('[').map(|i| &path[..i])
    } else {
        path.rfind('.')
            .map(|i| &path[..i])
            .or(Some(""))
            .filter(|_| !path.is_empty())
    }
}

/// Levenshtein distance, to tell a misspelt key from an unrelated one.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// From the start to the end of a value and everything nested in it (an
/// array of tables is spread over the file).
pub(super) fn extent(v: &Spanned<DeValue<'_>>) -> Range<usize> {
    let mut r = v.span();
    let mut widen = |x: Range<usize>| {
        r.start = r.start.min(x.start);
        r.end = r.end.max(x.end);
    };
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, x) in t.iter() {
                widen(k.span());
                widen(extent(x));
            }
        }
        DeValue::Array(a) => a.iter().for_each(|x| widen(extent(x))),
        _ => {}
    }
    r
}

pub(super) struct Checker<'a> {
    pub(super) src: Source<'a>,
    pub(super) spans: Spans,
    pub(super) problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(file: &'a str, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Checker {
            src: Source {
                file,
                text,
                line_starts,
            },
            spans: Spans::default(),
            problems: Vec::new(),
        }
    }

    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        self.src.position(offset)
    }

    pub(super) fn push(&mut self, offset: usize, message: String) {
        let (line, column) = self.position(offset);
        self.problems.push(Problem {
            file: self.src.file.to_string(),
            line,
            column,
            message,
        });
    }

    /// Where a value is written; an absent optional value falls back to
    /// the nearest enclosing table.
    pub(super) fn offset(&self, path: &str) -> usize {
        let mut p = Some(path);
        while let Some(q) = p {
            if let Some(s) = self.spans.values.get(q) {
                return s.start;
            }
            p = parent(q);
        }
        0
    }

    pub(super) fn at(&mut self, path: &str, message: String) {
        let o = self.offset(path);
        self.push(o, message);
    }

    pub(super) fn at_key(&mut self, path: &str, message: String) {
        let o = match self.spans.keys.get(path) {
            Some(s) => s.start,
            None => self.offset(path),
        };
        self.push(o, message);
    }

    pub(super) fn line_of(&self, path: &str) -> usize {
        self.position(self.offset(path)).0
    }

    /// Deserializes one section. After an error in one key it drops that
    /// key and tries again, so the errors of the other keys are found too.
    pub(super) fn de<T: DeserializeOwned>(&mut self, v: Spanned<DeValue<'_>>) -> Option<T> {
        let span = v.span();
        let mut value = v.into_inner();
        let mut dropped: Vec<String> = Vec::new();
        loop {
            let attempt = ValueDeserializer::from(Spanned::new(span.clone(), value.clone()));
            let e = match T::deserialize(attempt) {
                Ok(t) => return dropped.is_empty().then_some(t),
                Err(e) => e,
            };
            if let Some(field) = e
                .message()
                .strip_prefix("missing field `")
                .and_then(|m| m.strip_suffix('`'))
            {
                // A key dropped below is now missing (nothing more to learn),
                // or a misspelling of it was already reported as unknown.
                if dropped
                    .iter()
                    .any(|k| k == field || edit_distance(k, field) <= 2)
                {
                    return None;
                }
            }
            let at = e.span().map_or(span.start, |s| s.start);
            self.push(at, explain(e.message()));
            let DeValue::Table(t) = &mut value else {
                return None;
            };
            let culprit = t
                .iter()
                .find(|(k, v)| k.span().contains(&at) || extent(v).contains(&at))
                .map(|(k, _)| k.get_ref().to_string());
            match culprit {
                Some(k) if !dropped.contains(&k) => {
                    t.remove(k.as_str());
                    dropped.push(k);
                }
                _ => return None,
            }
        }
    }

    pub(super) fn role(&mut self, path: &str, name: &str) {
        if roles::canonical(name).is_none() {
            self.at(
                path,
                format!(
                    "unknown role '{name}' (未知角色); known roles: {}",
                    roles::known_list()
                ),
            );
        }
    }

    pub(super) fn village(
        &mut self,
        path: &str,
        code: &str,
        villages: Option<&[VillageRef]>,
        key: bool,
    ) {
        let Some(vs) = villages else { return };
        if vs.iter().any(|v| v.code == code) {
            return;
        }
        let known = vs
            .iter()
            .map(|v| v.code.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let msg = format!("unknown village code '{code}' (未知村代码); known codes: {known}");
        if key {
            self.at_key(path, msg);
        } else {
            self.at(path, msg);
        }
    }

    pub(super) fn villages(&mut self, path: &str, sel: &Villages, villages: Option<&[VillageRef]>) {
        if let Villages::Codes(codes) = sel {
            if codes.is_empty() {
                self.at(
                    path,
                    "villages is an empty list (村范围为空); write \"all\" or at least one village code"
                        .into(),
                );
            }
            for (k, c) in codes.iter().enumerate() {
                self.village(&format!("{path}[{k}]"), c, villages, false);
            }
        }
    }

    pub(super) fn finish(mut self) -> Vec<Problem> {
        self.problems.sort_by_key(|p| (p.line, p.column));
        self.problems.dedup();
        self.problems
    }
}

/// Adds the Chinese gloss to serde's English messages.
pub(super) fn explain(msg: &str) -> String {
    let msg = msg.trim();
    let gloss = [
        ("unknown field", "未知字段，请检查拼写"),
        ("missing field", "缺少必填字段"),
        ("invalid type", "类型不对"),
        ("unknown variant", "取值不在允许范围内"),
        ("invalid value", "取值无效"),
        ("invalid length", "个数不对"),
        ("duplicate field", "字段重复"),
    ]
    .iter()
    .find(|(en, _)| msg.starts_with(en))
    .map(|(_, zh)| *zh);
    // serde names Rust types; say what to write instead.
    let msg = [
        ("expected u8", "expected a whole number (整数)"),
        ("expected u32", "expected a whole number (整数)"),
        ("expected f64", "expected a number (数字)"),
        ("expected a sequence", "expected a list [ … ] (列表)"),
        (
            "expected a string",
            "expected text in quotes (带引号的文字)",
        ),
    ]
    .iter()
    .fold(msg.to_string(), |m, (a, b)| m.replace(a, b));
    let msg = msg.as_str();
    match gloss {
        Some(zh) => match msg.find(", expected") {
            Some(i) => format!("{} ({zh}){}", &msg[..i], &msg[i..]),
            None => format!("{msg} ({zh})"),
        },
        // Our own messages already carry Chinese.
        None => msg.to_string(),
    }
}
