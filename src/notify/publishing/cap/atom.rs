//! The Atom 1.0 feed (RFC 4287) listing the active public warnings.

use chrono::{DateTime, FixedOffset};

use super::xml::{Xml, format_atom_time};
use super::*;

/// XML namespace of Atom 1.0.
pub const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";
/// MIME type of an Atom feed.
pub const ATOM_MIME: &str = "application/atom+xml";

/// One active warning in the Atom feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// Permanent absolute IRI, e.g. `urn:uuid:…` or `tag:…`.
    pub id: String,
    pub title: String,
    pub updated: DateTime<FixedOffset>,
    pub summary: String,
    /// Where the CAP document is served.
    pub cap_url: String,
}

/// Writes an Atom 1.0 feed (RFC 4287). `feed_id` is a permanent absolute
/// IRI and `self_url` is the feed's own URL. `author` is the feed-level
/// author name: RFC 4287 requires one, and the entries have none. Each
/// entry gets `<link rel="alternate" type="application/cap+xml">` to its
/// CAP document. Times use the offset they carry (UTC as `+00:00`),
/// without fractional seconds. All text is escaped.
pub fn atom_feed(
    feed_id: &str,
    title: &str,
    author: &str,
    self_url: &str,
    updated: DateTime<FixedOffset>,
    entries: &[FeedEntry],
) -> String {
    let mut x = Xml::new();
    x.open("feed", &[("xmlns", ATOM_NAMESPACE)]);
    x.leaf("id", feed_id);
    x.leaf("title", title);
    x.leaf("updated", &format_atom_time(&updated));
    x.open("author", &[]);
    x.leaf("name", author);
    x.close("author");
    x.empty(
        "link",
        &[("rel", "self"), ("type", ATOM_MIME), ("href", self_url)],
    );
    for e in entries {
        x.open("entry", &[]);
        x.leaf("id", &e.id);
        x.leaf("title", &e.title);
        x.leaf("updated", &format_atom_time(&e.updated));
        x.leaf("summary", &e.summary);
        x.empty(
            "link",
            &[
                ("rel", "alternate"),
                ("type", CAP_MIME),
                ("href", &e.cap_url),
            ],
        );
        x.close("entry");
    }
    x.close("feed");
    x.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::publishing::cap::test_support::*;
    use chrono::TimeZone;
    use chrono::Utc;

    #[test]
    fn atom_feed_shape() {
        let entries = [FeedEntry {
            id: "urn:uuid:6f1c2d3e-0000-4000-8000-000000000001".into(),
            title: "暴雨黄色预警 <河东村> & 河西村".into(),
            updated: cst(2026, 7, 1, 14, 30, 0),
            summary: "请远离河道".into(),
            cap_url: "https://example.gov.cn/cap/1.xml?a=1&b=2".into(),
        }];
        let xml = atom_feed(
            "tag:example.gov.cn,2026:alerts",
            "某镇预警",
            "某镇应急办",
            "https://example.gov.cn/alerts.atom",
            cst(2026, 7, 1, 14, 31, 0),
            &entries,
        );
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
        assert!(xml.contains("<updated>2026-07-01T14:31:00+08:00</updated>"));
        assert!(xml.contains("<title>暴雨黄色预警 &lt;河东村&gt; &amp; 河西村</title>"));
        assert!(xml.contains(
            "<link rel=\"alternate\" type=\"application/cap+xml\" href=\"https://example.gov.cn/cap/1.xml?a=1&amp;b=2\"/>"
        ));
        assert!(xml.contains("<link rel=\"self\" type=\"application/atom+xml\" href=\"https://example.gov.cn/alerts.atom\"/>"));
        assert_order(
            &xml,
            &[
                "feed", "id", "title", "updated", "author", "name", "link", "entry", "id", "title",
                "updated", "summary", "link",
            ],
        );
        let utc = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .unwrap()
            .fixed_offset();
        assert!(
            atom_feed("urn:x:y", "t", "a", "https://e/", utc, &[])
                .contains("<updated>2026-01-01T00:00:00+00:00</updated>")
        );
    }
}
