//! Request signing for the SMS providers (Aliyun signature V1, Tencent Cloud TC3-HMAC-SHA256,
//! Twilio HTTP Basic) and for Fenghuo's own generic webhook.
//!
//! Every scheme also has a verifier: the loopback test servers that stand in for the providers
//! recompute the signature of each real request with it, so signer and verifier must agree
//! byte for byte. The signers are checked against the providers' published worked examples.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;
type HmacSha256 = Hmac<Sha256>;

/// Name of the HTTP header that carries [`webhook_signature_header`].
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Fenghuo-Signature";

// ---------------------------------------------------------------------------------------------
// HMAC helpers
// ---------------------------------------------------------------------------------------------

/// RFC 2104 key preparation: a key longer than the hash block is replaced by its digest, and the
/// result is zero-padded to the block size. Doing this ourselves lets us call the infallible
/// `Mac::new` (block-sized key) instead of `new_from_slice`, whose `Result` only exists for MACs
/// with fixed key sizes; HMAC accepts any key length, so there is no error to handle or unwrap.
fn fill_block_key<D: Digest>(key: &[u8], block: &mut [u8]) {
    if key.len() > block.len() {
        let digest = D::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
}

fn hmac_sha1(key: &[u8]) -> HmacSha1 {
    let mut block = Key::<HmacSha1>::default();
    fill_block_key::<Sha1>(key, &mut block);
    HmacSha1::new(&block)
}

fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    let mut block = Key::<HmacSha256>::default();
    fill_block_key::<Sha256>(key, &mut block);
    HmacSha256::new(&block)
}

fn hmac_sha256_bytes(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = hmac_sha256(key);
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Equality that does not stop at the first differing byte, so a remote caller cannot learn
/// a credential byte by byte from response timing. (The length itself is not secret.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

// ---------------------------------------------------------------------------------------------
// Aliyun signature V1
// ---------------------------------------------------------------------------------------------

/// Everything except the RFC 3986 unreserved set `A-Z a-z 0-9 - _ . ~` is escaped.
const ALIYUN_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// RFC 3986 percent-encoding as Aliyun specifies (space→%20, *→%2A, ~ unescaped, unreserved A-Za-z0-9-_.~ kept).
///
/// Non-ASCII text is encoded as its UTF-8 bytes, with upper-case hex digits.
pub fn aliyun_percent_encode(s: &str) -> String {
    utf8_percent_encode(s, ALIYUN_ENCODE_SET).to_string()
}

/// The sorted, encoded `k=v&…` string, without any `Signature` parameter.
fn aliyun_canonical_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> =
        params.iter().filter(|(k, _)| k != "Signature").collect();
    // Sort by name as Aliyun requires; the value breaks ties so a repeated name still yields
    // one deterministic string on both sides.
    sorted.sort();
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", aliyun_percent_encode(k), aliyun_percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn aliyun_mac(access_key_secret: &str, http_method: &str, params: &[(String, String)]) -> HmacSha1 {
    let string_to_sign = format!(
        "{}&{}&{}",
        // Aliyun signs the upper-case method; normalising lets callers pass "get".
        http_method.to_ascii_uppercase(),
        aliyun_percent_encode("/"),
        aliyun_percent_encode(&aliyun_canonical_query(params)),
    );
    let mut mac = hmac_sha1(format!("{access_key_secret}&").as_bytes());
    mac.update(string_to_sign.as_bytes());
    mac
}

/// Aliyun signature V1: sort params by name (excluding "Signature"), encode, join, StringToSign = METHOD&%2F&enc(query); base64(HMAC-SHA1(secret+"&")).
pub fn aliyun_signature(
    access_key_secret: &str,
    http_method: &str,
    params: &[(String, String)],
) -> String {
    let mac = aliyun_mac(access_key_secret, http_method, params);
    BASE64.encode(mac.finalize().into_bytes())
}

/// Full query string (sorted, encoded) with the Signature parameter appended, ready to put after `?`.
///
/// Any `Signature` already present in `params` is dropped rather than sent twice.
pub fn aliyun_signed_query(
    access_key_secret: &str,
    http_method: &str,
    params: &[(String, String)],
) -> String {
    let signature = aliyun_signature(access_key_secret, http_method, params);
    let query = aliyun_canonical_query(params);
    let signature = aliyun_percent_encode(&signature);
    if query.is_empty() {
        format!("Signature={signature}")
    } else {
        format!("{query}&Signature={signature}")
    }
}

/// Verify a received request's (already percent-DECODED) query pairs, which include Signature.
///
/// Exactly one `Signature` pair must be present. Freshness (`Timestamp`) and nonce reuse
/// (`SignatureNonce`) are not checked here: they are policy for the caller.
pub fn aliyun_verify(
    access_key_secret: &str,
    http_method: &str,
    pairs: &[(String, String)],
) -> bool {
    let mut signatures = pairs.iter().filter(|(k, _)| k == "Signature");
    let (Some((_, received)), None) = (signatures.next(), signatures.next()) else {
        return false;
    };
    let Ok(received) = BASE64.decode(received) else {
        return false;
    };
    aliyun_mac(access_key_secret, http_method, pairs)
        .verify_slice(&received)
        .is_ok()
}

// ---------------------------------------------------------------------------------------------
// Tencent Cloud TC3-HMAC-SHA256
// ---------------------------------------------------------------------------------------------

const TC3_ALGORITHM: &str = "TC3-HMAC-SHA256";
const TC3_CONTENT_TYPE: &str = "application/json; charset=utf-8";
const TC3_SIGNED_HEADERS: &str = "content-type;host";
const TC3_TERMINATOR: &str = "tc3_request";

/// The inputs of one TC3-signed request (always `POST /` with a JSON body).
#[derive(Clone, Copy)]
pub struct Tc3Request<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    pub service: &'a str,
    pub host: &'a str,
    /// Unix seconds; also sent as `X-TC-Timestamp`.
    pub timestamp: i64,
    pub body: &'a str,
}

// Hand-written so that logging a request can never print the secret key.
impl fmt::Debug for Tc3Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tc3Request")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .field("service", &self.service)
            .field("host", &self.host)
            .field("timestamp", &self.timestamp)
            .field("body", &self.body)
            .finish()
    }
}

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`: shifting the year to start on 1 March puts the leap day
/// last, so month lengths follow the fixed 153-days-per-5-months pattern. Kept here so this
/// module needs no date crate.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097); // 400-year eras
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from 1 March
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are range-limited by the arithmetic above, so the casts cannot truncate.
    (year, month as u32, day as u32)
}

/// `YYYY-MM-DD` of a Unix timestamp in UTC, as TC3 puts in the credential scope.
fn utc_date(timestamp: i64) -> String {
    let (year, month, day) = civil_from_days(timestamp.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Header values go into the canonical request lower-cased and trimmed, as TC3 specifies.
fn tc3_canonical_host(host: &str) -> String {
    host.trim().to_ascii_lowercase()
}

/// hex(SHA256(CanonicalRequest)) for POST / with content-type "application/json; charset=utf-8" and host, signed headers content-type;host.
pub fn tc3_canonical_request_hash(host: &str, body: &str) -> String {
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{TC3_CONTENT_TYPE}\nhost:{}\n\n{TC3_SIGNED_HEADERS}\n{}",
        tc3_canonical_host(host),
        hex::encode(Sha256::digest(body.as_bytes())),
    );
    hex::encode(Sha256::digest(canonical_request.as_bytes()))
}

/// The final MAC over StringToSign, keyed by the date/service derived signing key.
fn tc3_mac(
    secret_key: &str,
    service: &str,
    date: &str,
    host: &str,
    timestamp: i64,
    body: &str,
) -> HmacSha256 {
    let string_to_sign = format!(
        "{TC3_ALGORITHM}\n{timestamp}\n{date}/{service}/{TC3_TERMINATOR}\n{}",
        tc3_canonical_request_hash(host, body),
    );
    let secret_date = hmac_sha256_bytes(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256_bytes(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256_bytes(&secret_service, TC3_TERMINATOR.as_bytes());
    let mut mac = hmac_sha256(&secret_signing);
    mac.update(string_to_sign.as_bytes());
    mac
}

/// The hex signature.
pub fn tc3_signature(req: &Tc3Request) -> String {
    let date = utc_date(req.timestamp);
    let mac = tc3_mac(
        req.secret_key,
        req.service,
        &date,
        req.host,
        req.timestamp,
        req.body,
    );
    hex::encode(mac.finalize().into_bytes())
}

/// The full Authorization header value.
pub fn tc3_authorization(req: &Tc3Request) -> String {
    format!(
        "{TC3_ALGORITHM} Credential={}/{}/{}/{TC3_TERMINATOR}, SignedHeaders={TC3_SIGNED_HEADERS}, Signature={}",
        req.secret_id,
        utc_date(req.timestamp),
        req.service,
        tc3_signature(req),
    )
}

/// Verify an Authorization header against the received body/host/timestamp/secret; parses Credential (secret id, date, service) from the header itself; checks the date in the credential equals the UTC date of the timestamp.
///
/// Only `SignedHeaders=content-type;host` is accepted, since that is all [`tc3_authorization`]
/// produces. Whether `timestamp` is recent enough is the caller's policy, not checked here.
pub fn tc3_verify(
    secret_id: &str,
    secret_key: &str,
    host: &str,
    timestamp: i64,
    body: &str,
    authorization: &str,
) -> bool {
    let Some(rest) = authorization
        .trim()
        .strip_prefix(TC3_ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
    else {
        return false;
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let Some((name, value)) = field.trim().split_once('=') else {
            return false;
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return false,
        };
        // A repeated field would make "which one was checked" ambiguous.
        if slot.replace(value).is_some() {
            return false;
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return false;
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [id, date, service, terminator] = scope.as_slice() else {
        return false;
    };
    if *id != secret_id
        || *date != utc_date(timestamp)
        || service.is_empty()
        || *terminator != TC3_TERMINATOR
        || signed_headers != TC3_SIGNED_HEADERS
    {
        return false;
    }
    let Ok(signature) = hex::decode(signature) else {
        return false;
    };
    tc3_mac(secret_key, service, date, host, timestamp, body)
        .verify_slice(&signature)
        .is_ok()
}

// ---------------------------------------------------------------------------------------------
// HTTP Basic (Twilio)
// ---------------------------------------------------------------------------------------------

/// HTTP Basic auth header value ("Basic " + base64(user:pass)) — Twilio.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
}

/// True when `header` is a Basic credential for exactly `user` and `password`.
/// The scheme name is matched case-insensitively (RFC 7617).
pub fn basic_auth_verify(header: &str, user: &str, password: &str) -> bool {
    let Some((scheme, encoded)) = header.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("Basic") {
        return false;
    }
    let Ok(received) = BASE64.decode(encoded.trim()) else {
        return false;
    };
    constant_time_eq(&received, format!("{user}:{password}").as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Generic webhook
// ---------------------------------------------------------------------------------------------

fn webhook_mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = hmac_sha256(secret.as_bytes());
    // The timestamp is signed with the body so a captured request cannot be replayed under
    // a fresh `t=`.
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Generic webhook: hex(HMAC-SHA256(secret, timestamp + "." + body)). Sent as header `X-Fenghuo-Signature: t=<timestamp>,v1=<hex>`.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(webhook_mac(secret, timestamp, body).finalize().into_bytes())
}

/// The value of the [`WEBHOOK_SIGNATURE_HEADER`] header: `t=<timestamp>,v1=<hex>`.
pub fn webhook_signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        webhook_signature(secret, timestamp, body)
    )
}

/// Parsed `t=` and every `v1=` of a webhook signature header. Unknown keys are skipped so a
/// later scheme (`v2=`) can be sent alongside; several `v1=` are allowed for key rotation.
fn parse_webhook_header(header: &str) -> Option<(i64, Vec<Vec<u8>>)> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for field in header.split(',') {
        let (name, value) = field.trim().split_once('=')?;
        match name {
            // Two timestamps would make "which one was signed" ambiguous.
            "t" if timestamp.is_some() => return None,
            "t" => timestamp = Some(value.parse::<i64>().ok()?),
            "v1" => signatures.push(hex::decode(value).ok()?),
            _ => {}
        }
    }
    if signatures.is_empty() {
        return None;
    }
    Some((timestamp?, signatures))
}

/// The `t=` of a webhook signature header, so the receiver can reject stale requests
/// (`webhook_verify` does not know the current time).
pub fn webhook_header_timestamp(header: &str) -> Option<i64> {
    parse_webhook_header(header).map(|(timestamp, _)| timestamp)
}

/// Parses the header, recomputes, compares in constant time (hmac's verify_slice).
pub fn webhook_verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((timestamp, signatures)) = parse_webhook_header(header) else {
        return false;
    };
    signatures.iter().any(|signature| {
        webhook_mac(secret, timestamp, body)
            .verify_slice(signature)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Decode a query string the way a receiving server would.
    fn decode_query(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("k=v");
                let dec = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .expect("utf-8")
                        .into_owned()
                };
                (dec(k), dec(v))
            })
            .collect()
    }

    fn aliyun_example() -> Vec<(String, String)> {
        pairs(&[
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", r#"{"customer":"test"}"#),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ])
    }

    const TENCENT_BODY: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

    fn tencent_example() -> Tc3Request<'static> {
        Tc3Request {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            timestamp: 1_551_113_065,
            body: TENCENT_BODY,
        }
    }

    #[test]
    fn hmac_block_key_matches_new_from_slice_for_all_lengths() {
        for len in [0usize, 1, 20, 32, 63, 64, 65, 128, 200] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut ours1 = hmac_sha1(&key);
            let mut theirs1 = HmacSha1::new_from_slice(&key).expect("any length");
            ours1.update(b"data");
            theirs1.update(b"data");
            assert_eq!(
                ours1.finalize().into_bytes(),
                theirs1.finalize().into_bytes(),
                "sha1 len {len}"
            );
            let mut ours256 = hmac_sha256(&key);
            let mut theirs256 = HmacSha256::new_from_slice(&key).expect("any length");
            ours256.update(b"data");
            theirs256.update(b"data");
            assert_eq!(
                ours256.finalize().into_bytes(),
                theirs256.finalize().into_bytes(),
                "sha256 len {len}"
            );
        }
    }

    #[test]
    fn hmac_sha256_rfc4231_case_1() {
        let key = [0x0bu8; 20];
        assert_eq!(
            hex::encode(hmac_sha256_bytes(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn percent_encode_rfc3986() {
        assert_eq!(aliyun_percent_encode("a b"), "a%20b");
        assert_eq!(aliyun_percent_encode("*"), "%2A");
        assert_eq!(aliyun_percent_encode("~"), "~");
        assert_eq!(aliyun_percent_encode("中"), "%E4%B8%AD");
        assert_eq!(aliyun_percent_encode("/"), "%2F");
        assert_eq!(aliyun_percent_encode("="), "%3D");
        assert_eq!(aliyun_percent_encode("+&%"), "%2B%26%25");
        assert_eq!(
            aliyun_percent_encode("AZaz09-_.~"),
            "AZaz09-_.~",
            "unreserved characters stay as they are"
        );
        assert_eq!(aliyun_percent_encode(""), "");
    }

    #[test]
    fn aliyun_worked_example() {
        assert_eq!(
            aliyun_signature("testSecret", "GET", &aliyun_example()),
            "zJDF+Lrzhj/ThnlvIToysFRq6t4="
        );
    }

    #[test]
    fn aliyun_signature_ignores_parameter_order_and_existing_signature() {
        let mut params = aliyun_example();
        params.reverse();
        params.push(("Signature".into(), "stale".into()));
        assert_eq!(
            aliyun_signature("testSecret", "get", &params),
            "zJDF+Lrzhj/ThnlvIToysFRq6t4="
        );
    }

    #[test]
    fn aliyun_signed_query_shape() {
        let query = aliyun_signed_query("testSecret", "GET", &aliyun_example());
        assert!(query.starts_with("AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&"));
        assert!(query.contains("&SignName=%E9%98%BF%E9%87%8C"));
        assert!(query.contains("&TemplateParam=%7B%22customer%22%3A%22test%22%7D&"));
        assert!(query.contains("&Timestamp=2017-07-12T02%3A42%3A19Z&"));
        assert!(query.ends_with("&Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D"));
        assert_eq!(query.matches("Signature=").count(), 1);
        assert_eq!(
            aliyun_signed_query("s", "GET", &[]),
            format!(
                "Signature={}",
                aliyun_percent_encode(&aliyun_signature("s", "GET", &[]))
            )
        );
    }

    #[test]
    fn aliyun_round_trip_through_decoded_query() {
        let query = aliyun_signed_query("testSecret", "GET", &aliyun_example());
        let received = decode_query(&query);
        assert!(aliyun_verify("testSecret", "GET", &received));
        // The method is part of what is signed.
        assert!(!aliyun_verify("testSecret", "POST", &received));
        assert!(!aliyun_verify("otherSecret", "GET", &received));
    }

    #[test]
    fn aliyun_tamper_is_rejected() {
        let received = decode_query(&aliyun_signed_query("testSecret", "GET", &aliyun_example()));

        let mut changed = received.clone();
        for (k, v) in &mut changed {
            if k == "PhoneNumbers" {
                *v = "15300000002".into();
            }
        }
        assert!(!aliyun_verify("testSecret", "GET", &changed));

        let mut added = received.clone();
        added.push(("Extra".into(), "1".into()));
        assert!(!aliyun_verify("testSecret", "GET", &added));

        let removed: Vec<_> = received
            .iter()
            .filter(|(k, _)| k != "OutId")
            .cloned()
            .collect();
        assert!(!aliyun_verify("testSecret", "GET", &removed));

        let unsigned: Vec<_> = received
            .iter()
            .filter(|(k, _)| k != "Signature")
            .cloned()
            .collect();
        assert!(!aliyun_verify("testSecret", "GET", &unsigned));

        let mut doubled = received.clone();
        doubled.push(("Signature".into(), "zJDF+Lrzhj/ThnlvIToysFRq6t4=".into()));
        assert!(!aliyun_verify("testSecret", "GET", &doubled));

        let mut garbage = unsigned;
        garbage.push(("Signature".into(), "not base64!".into()));
        assert!(!aliyun_verify("testSecret", "GET", &garbage));
    }

    #[test]
    fn civil_from_days_known_dates() {
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(86_399), "1970-01-01");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_date(-86_400), "1969-12-31");
        assert_eq!(utc_date(951_782_400), "2000-02-29"); // leap: divisible by 400
        assert_eq!(utc_date(951_782_400 + 86_400), "2000-03-01");
        assert_eq!(utc_date(1_709_164_800), "2024-02-29"); // leap: divisible by 4
        assert_eq!(utc_date(1_709_164_800 - 1), "2024-02-28");
        assert_eq!(utc_date(4_107_456_000), "2100-02-28"); // not leap: divisible by 100
        assert_eq!(utc_date(4_107_542_400), "2100-03-01");
        assert_eq!(utc_date(-2_203_977_600), "1900-02-28");
        assert_eq!(utc_date(-2_203_891_200), "1900-03-01");
        assert_eq!(utc_date(-11_670_998_400), "1600-02-29");
        assert_eq!(utc_date(2_147_483_647), "2038-01-19");
        assert_eq!(utc_date(1_735_689_599), "2024-12-31");
        assert_eq!(utc_date(1_735_689_600), "2025-01-01");
    }

    #[test]
    fn civil_from_days_matches_day_by_day_calendar() {
        // Walk a naive calendar from 1600-01-01 to past 2500 and compare every day.
        fn is_leap(y: i64) -> bool {
            (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        }
        fn month_len(y: i64, m: u32) -> u32 {
            match m {
                2 if is_leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            }
        }
        let start = -135_140; // 1600-01-01
        assert_eq!(civil_from_days(start), (1600, 1, 1));
        let (mut y, mut m, mut d) = (1600i64, 1u32, 1u32);
        for days in start..start + 330_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            d += 1;
            if d > month_len(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        // Extreme inputs must not overflow.
        let _ = utc_date(i64::MIN);
        let _ = utc_date(i64::MAX);
    }

    #[test]
    fn tencent_worked_example() {
        let req = tencent_example();
        assert!(TENCENT_BODY.contains(r"\u672a"), "escapes are literal text");
        assert_eq!(
            tc3_canonical_request_hash(req.host, req.body),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            tc3_signature(&req),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            tc3_authorization(&req),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn tencent_round_trip() {
        let req = Tc3Request {
            secret_id: "AKIDfenghuo",
            secret_key: "key",
            service: "sms",
            host: "127.0.0.1:8443",
            timestamp: 1_709_164_800,
            body: r#"{"PhoneNumberSet":["+8613800000000"],"SignName":"湖上乡应急办"}"#,
        };
        let auth = tc3_authorization(&req);
        assert!(tc3_verify(
            req.secret_id,
            req.secret_key,
            req.host,
            req.timestamp,
            req.body,
            &auth
        ));
        // The worked example verifies too.
        let ex = tencent_example();
        assert!(tc3_verify(
            ex.secret_id,
            ex.secret_key,
            ex.host,
            ex.timestamp,
            ex.body,
            &tc3_authorization(&ex)
        ));
    }

    #[test]
    fn tencent_tamper_is_rejected() {
        let req = tencent_example();
        let auth = tc3_authorization(&req);
        let verify = |id: &str, key: &str, host: &str, ts: i64, body: &str, auth: &str| {
            tc3_verify(id, key, host, ts, body, auth)
        };
        let (id, key, host, ts, body) = (
            req.secret_id,
            req.secret_key,
            req.host,
            req.timestamp,
            req.body,
        );
        assert!(verify(id, key, host, ts, body, &auth));
        assert!(!verify(id, key, host, ts, &body.replace("1", "2"), &auth));
        assert!(!verify(id, key, "sms.tencentcloudapi.com", ts, body, &auth));
        assert!(!verify(id, "wrong", host, ts, body, &auth));
        assert!(!verify("AKIDother", key, host, ts, body, &auth));
        // Same UTC day, different second: the timestamp itself is signed.
        assert!(!verify(id, key, host, ts + 1, body, &auth));
        // A different day fails on the credential date before the MAC is computed.
        assert!(!verify(id, key, host, ts + 86_400, body, &auth));
        assert!(!verify(
            id,
            key,
            host,
            ts,
            body,
            &auth.replace("/cvm/", "/sms/")
        ));
        assert!(!verify(
            id,
            key,
            host,
            ts,
            body,
            &auth.replace("2019-02-25", "2019-02-26")
        ));
        assert!(!verify(
            id,
            key,
            host,
            ts,
            body,
            &auth.replace("content-type;host", "host")
        ));
        let mut flipped = auth.clone();
        let last = flipped.pop();
        flipped.push(if last == Some('0') { '1' } else { '0' });
        assert!(!verify(id, key, host, ts, body, &flipped));
        assert!(!verify(
            id,
            key,
            host,
            ts,
            body,
            &auth.replace("TC3-", "TC4-")
        ));
        let doubled = format!("{auth}, Signature={}", tc3_signature(&req));
        assert!(!verify(id, key, host, ts, body, &doubled));
        assert!(!verify(id, key, host, ts, body, ""));
        assert!(!verify(id, key, host, ts, body, "TC3-HMAC-SHA256 garbage"));
    }

    /// An Authorization header whose signature is correct for the credential scope it names,
    /// as a client with the right key but the wrong clock or service name would send.
    fn tc3_header_for_scope(req: &Tc3Request, date: &str, service: &str) -> String {
        let mac = tc3_mac(
            req.secret_key,
            service,
            date,
            req.host,
            req.timestamp,
            req.body,
        );
        format!(
            "TC3-HMAC-SHA256 Credential={}/{date}/{service}/tc3_request, \
             SignedHeaders=content-type;host, Signature={}",
            req.secret_id,
            hex::encode(mac.finalize().into_bytes())
        )
    }

    fn tc3_verify_request(req: &Tc3Request, authorization: &str) -> bool {
        tc3_verify(
            req.secret_id,
            req.secret_key,
            req.host,
            req.timestamp,
            req.body,
            authorization,
        )
    }

    #[test]
    fn tencent_scope_must_be_the_request_day_and_a_named_service() {
        let req = tencent_example();
        let own = tc3_header_for_scope(&req, "2019-02-25", "cvm");
        assert_eq!(own, tc3_authorization(&req));
        assert!(tc3_verify_request(&req, &own));
        // Correctly signed, but for the next day: the credential date is checked.
        let tomorrow = tc3_header_for_scope(&req, "2019-02-26", "cvm");
        assert!(!tc3_verify_request(&req, &tomorrow));
        // Correctly signed, but with no service in the scope.
        let no_service = tc3_header_for_scope(&req, "2019-02-25", "");
        assert!(
            no_service.contains("/2019-02-25//tc3_request,"),
            "{no_service}"
        );
        assert!(!tc3_verify_request(&req, &no_service));
        // Another service, correctly signed, is that service's business: it verifies.
        let sms = tc3_header_for_scope(&req, "2019-02-25", "sms");
        assert!(tc3_verify_request(&req, &sms));
    }

    #[test]
    fn tencent_scope_needs_exactly_four_parts_ending_tc3_request() {
        let req = tencent_example();
        let auth = tc3_authorization(&req);
        for bad in [
            auth.replace("/tc3_request", "/tc4_request"),
            auth.replace("/tc3_request", "/tc3_request/x"),
            auth.replace("/cvm/tc3_request", "/tc3_request"),
            auth.replace("Credential=", "Scope="),
            auth.replace("SignedHeaders=", "Signed="),
            auth.replace(", Signature=", ", Signature=zz"),
            auth.replace(", SignedHeaders", " SignedHeaders"),
        ] {
            assert!(!tc3_verify_request(&req, &bad), "{bad}");
        }
        // Surrounding whitespace and a trimmed, lower-cased host are tolerated.
        assert!(tc3_verify_request(&req, &format!("  {auth} ")));
        let shouting = Tc3Request {
            host: " CVM.TencentCloudAPI.com ",
            ..req
        };
        assert!(tc3_verify_request(&shouting, &auth));
    }

    #[test]
    fn tc3_debug_redacts_secret_key() {
        let shown = format!("{:?}", tencent_example());
        assert!(shown.contains("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"));
        assert!(!shown.contains("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"));
    }

    #[test]
    fn basic_auth_round_trip_and_tamper() {
        // RFC 7617's example.
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        let header = basic_auth("ACxxxxxxxx", "token:with:colons");
        assert!(basic_auth_verify(
            &header,
            "ACxxxxxxxx",
            "token:with:colons"
        ));
        assert!(basic_auth_verify(
            &header.replace("Basic", "basic"),
            "ACxxxxxxxx",
            "token:with:colons"
        ));
        assert!(!basic_auth_verify(
            &header,
            "ACxxxxxxxx",
            "token:with:colon"
        ));
        assert!(!basic_auth_verify(
            &header,
            "ACyyyyyyyy",
            "token:with:colons"
        ));
        assert!(!basic_auth_verify(
            &header.replace("Basic", "Bearer"),
            "ACxxxxxxxx",
            "token:with:colons"
        ));
        assert!(!basic_auth_verify("Basic !!!", "a", "b"));
        assert!(!basic_auth_verify("", "a", "b"));
    }

    #[test]
    fn webhook_round_trip() {
        let body = br#"{"alert":"flood","level":2}"#;
        let header = webhook_signature_header("whsec", 1_700_000_000, body);
        assert_eq!(
            header,
            format!(
                "t=1700000000,v1={}",
                webhook_signature("whsec", 1_700_000_000, body)
            )
        );
        // The definition, spelled out independently.
        assert_eq!(
            webhook_signature("whsec", 1_700_000_000, body),
            hex::encode(hmac_sha256_bytes(
                b"whsec",
                &[b"1700000000.".as_slice(), body].concat()
            ))
        );
        assert!(webhook_verify("whsec", &header, body));
        assert_eq!(webhook_header_timestamp(&header), Some(1_700_000_000));
        // Whitespace, unknown schemes and a rotated-out key alongside are tolerated.
        let rotated = format!(
            "t=1700000000, v0=ignored, v1={}, v1={}",
            webhook_signature("old", 1_700_000_000, body),
            webhook_signature("whsec", 1_700_000_000, body)
        );
        assert!(webhook_verify("whsec", &rotated, body));
        // Negative timestamps are still well-formed.
        let early = webhook_signature_header("s", -5, b"");
        assert!(webhook_verify("s", &early, b""));
    }

    #[test]
    fn webhook_tamper_is_rejected() {
        let body = br#"{"alert":"flood","level":2}"#;
        let header = webhook_signature_header("whsec", 1_700_000_000, body);
        assert!(!webhook_verify(
            "whsec",
            &header,
            br#"{"alert":"flood","level":3}"#
        ));
        assert!(!webhook_verify("other", &header, body));
        assert!(!webhook_verify(
            "whsec",
            &header.replace("t=1700000000", "t=1700000001"),
            body
        ));
        let sig = webhook_signature("whsec", 1_700_000_000, body);
        assert!(!webhook_verify("whsec", &format!("v1={sig}"), body));
        assert!(!webhook_verify("whsec", "t=1700000000", body));
        assert!(!webhook_verify(
            "whsec",
            &format!("t=1700000000,t=1700000000,v1={sig}"),
            body
        ));
        assert!(!webhook_verify("whsec", "t=1700000000,v1=zz", body));
        assert!(!webhook_verify("whsec", "t=abc,v1=00", body));
        assert!(!webhook_verify("whsec", "", body));
        assert_eq!(webhook_header_timestamp("garbage"), None);
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
