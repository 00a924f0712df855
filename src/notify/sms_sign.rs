//! Request signing for the SMS providers (Aliyun signature V1, Tencent Cloud TC3-HMAC-SHA256,
//! Twilio HTTP Basic) and for Fenghuo's own generic webhook.
//!
//! Every scheme also has a verifier: the loopback test servers that stand in for the providers
//! recompute the signature of each real request with it, so signer and verifier must agree
//! byte for byte. The signers are checked against the providers' published worked examples.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

type HmacSha1 = Hmac<Sha1>;
type HmacSha256 = Hmac<Sha256>;

/// Name of the HTTP header that carries [`webhook_signature_header`].
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Fenghuo-Signature";

// ---------------------------------------------------------------------------------------------
// HMAC helpers
// ---------------------------------------------------------------------------------------------

/// An HMAC keyed with `key`. HMAC takes a key of any length (RFC 2104: a longer one than the
/// block is hashed first), and `new_from_slice` does exactly that; its `Result` belongs to the
/// `KeyInit` trait, for MACs with a fixed key size, and is never an error for HMAC.
fn keyed<M: KeyInit>(key: &[u8]) -> M {
    M::new_from_slice(key).expect("HMAC accepts a key of any length")
}

fn hmac_sha256_bytes(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac: HmacSha256 = keyed(key);
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
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
    let mut mac: HmacSha1 = keyed(format!("{access_key_secret}&").as_bytes());
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

/// `YYYY-MM-DD` of a Unix timestamp in UTC, as TC3 puts in the credential scope; `None` outside
/// the calendar chrono knows (±262,000 years), which no clock gives.
fn utc_date(timestamp: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(timestamp, 0).map(|t| t.format("%Y-%m-%d").to_string())
}

/// The date of the credential scope of a request signed at `timestamp`. A timestamp out of
/// the calendar gives an empty date, which [`tc3_verify`] never accepts.
fn scope_date(timestamp: i64) -> String {
    utc_date(timestamp).unwrap_or_default()
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
    let mut mac: HmacSha256 = keyed(&secret_signing);
    mac.update(string_to_sign.as_bytes());
    mac
}

/// The hex signature.
pub fn tc3_signature(req: &Tc3Request) -> String {
    let date = scope_date(req.timestamp);
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
        scope_date(req.timestamp),
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
        || utc_date(timestamp).as_deref() != Some(*date)
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
    // Constant time, so a caller cannot learn the credential byte by byte from response timing
    // (the length itself is not secret).
    received
        .ct_eq(format!("{user}:{password}").as_bytes())
        .into()
}

// ---------------------------------------------------------------------------------------------
// Generic webhook
// ---------------------------------------------------------------------------------------------

fn webhook_mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac: HmacSha256 = keyed(secret.as_bytes());
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
    fn hmac_keys_longer_than_the_block_are_hashed_first() {
        // RFC 2202 and RFC 4231 test case 6: a key longer than the hash block, as a provider's
        // secret may be.
        let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        let mut sha1: HmacSha1 = keyed(&[0xaa; 80]);
        sha1.update(data);
        assert_eq!(
            hex::encode(sha1.finalize().into_bytes()),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
        assert_eq!(
            hex::encode(hmac_sha256_bytes(&[0xaa; 131], data)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // An empty key is a key too (a webhook secret is checked for emptiness by the caller).
        assert_eq!(
            hex::encode(hmac_sha256_bytes(b"", b"")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        );
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
    fn tc3_scope_dates_across_leap_years_and_centuries() {
        assert_eq!(utc_date(1_551_113_065).as_deref(), Some("2019-02-25"));
        assert_eq!(utc_date(0).as_deref(), Some("1970-01-01"));
        assert_eq!(utc_date(86_399).as_deref(), Some("1970-01-01"));
        assert_eq!(utc_date(-1).as_deref(), Some("1969-12-31"));
        assert_eq!(utc_date(-86_400).as_deref(), Some("1969-12-31"));
        assert_eq!(utc_date(951_782_400).as_deref(), Some("2000-02-29")); // leap: divisible by 400
        assert_eq!(
            utc_date(951_782_400 + 86_400).as_deref(),
            Some("2000-03-01")
        );
        assert_eq!(utc_date(1_709_164_800).as_deref(), Some("2024-02-29")); // leap: divisible by 4
        assert_eq!(utc_date(1_709_164_800 - 1).as_deref(), Some("2024-02-28"));
        assert_eq!(utc_date(4_107_456_000).as_deref(), Some("2100-02-28")); // not leap: divisible by 100
        assert_eq!(utc_date(4_107_542_400).as_deref(), Some("2100-03-01"));
        assert_eq!(utc_date(-2_203_977_600).as_deref(), Some("1900-02-28"));
        assert_eq!(utc_date(-2_203_891_200).as_deref(), Some("1900-03-01"));
        assert_eq!(utc_date(-11_670_998_400).as_deref(), Some("1600-02-29"));
        assert_eq!(utc_date(2_147_483_647).as_deref(), Some("2038-01-19"));
        assert_eq!(utc_date(1_735_689_599).as_deref(), Some("2024-12-31"));
        assert_eq!(utc_date(1_735_689_600).as_deref(), Some("2025-01-01"));
    }

    #[test]
    fn tc3_scope_turns_at_midnight_utc() {
        // 2019-02-26 00:00:00 UTC, which is 08:00 in Beijing: the scope follows UTC.
        let midnight = 1_551_139_200;
        let before = Tc3Request {
            timestamp: midnight - 1,
            ..tencent_example()
        };
        let after = Tc3Request {
            timestamp: midnight,
            ..tencent_example()
        };
        let (auth_before, auth_after) = (tc3_authorization(&before), tc3_authorization(&after));
        assert!(auth_before.contains("/2019-02-25/cvm/"), "{auth_before}");
        assert!(auth_after.contains("/2019-02-26/cvm/"), "{auth_after}");
        assert!(tc3_verify_request(&before, &auth_before));
        assert!(tc3_verify_request(&after, &auth_after));
        // A header signed one second before midnight names the old day: checked against a
        // timestamp one second later, it fails on the date before the MAC is computed.
        let replayed = Tc3Request {
            timestamp: midnight,
            ..before
        };
        assert!(!tc3_verify_request(&replayed, &auth_before));
        // A timestamp beyond the calendar neither panics nor verifies, even against a header
        // with an empty date.
        for ts in [i64::MIN, i64::MAX] {
            let far = Tc3Request {
                timestamp: ts,
                ..tencent_example()
            };
            assert_eq!(utc_date(ts), None);
            assert!(!tc3_verify_request(&far, &tc3_authorization(&far)));
            assert!(!tc3_verify_request(
                &far,
                &tc3_header_for_scope(&far, "", "cvm")
            ));
        }
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
    fn basic_auth_refuses_near_misses() {
        let verify = |header: &str| basic_auth_verify(header, "AC1", "secret");
        assert!(verify(&basic_auth("AC1", "secret")));
        // One byte more, one byte less, the last byte changed, the whole credential empty.
        assert!(!verify(&basic_auth("AC1", "secret ")));
        assert!(!verify(&basic_auth("AC1", "secre")));
        assert!(!verify(&basic_auth("AC1", "secreu")));
        assert!(!verify(&basic_auth("", "")));
        assert!(!verify("Basic "));
        // An empty password is a credential like any other: it matches only itself.
        assert!(basic_auth_verify(&basic_auth("AC1", ""), "AC1", ""));
        assert!(!basic_auth_verify(&basic_auth("AC1", "x"), "AC1", ""));
    }
}
