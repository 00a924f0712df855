//! Aliyun (阿里云) dysmsapi `SendSms`: signature V1, the signed GET, and how its answers
//! are classified.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac;
use reqwest::{Client, RequestBuilder, Url};
use serde::Deserialize;
use serde_json::json;

use crate::config::AliyunConfig;
use crate::notify::delivery::channel::{Outcome, SendFuture, SmsMessage, SmsProvider};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::mac::*;
use super::*;

// ---------------------------------------------------------------------------------------------
// Signature V1
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
// Sending
// ---------------------------------------------------------------------------------------------

/// Aliyun dysmsapi `SendSms`, signature V1, as a signed GET.
pub struct AliyunSms {
    client: Client,
    url: Url,
    access_key_id: String,
    access_key_secret: String,
    sign_name: String,
    template_code: String,
    region_id: String,
}

impl AliyunSms {
    pub fn new(cfg: &AliyunConfig, timeout_secs: u64) -> Result<Self, SmsConfigError> {
        Ok(AliyunSms {
            url: http_url(&cfg.base_url, "sms.aliyun.base_url")?,
            access_key_id: required(&cfg.access_key_id, "sms.aliyun.access_key_id")?,
            access_key_secret: required(&cfg.access_key_secret, "sms.aliyun.access_key_secret")?,
            sign_name: required(&cfg.sign_name, "sms.aliyun.sign_name")?,
            template_code: required(&cfg.template_code, "sms.aliyun.template_code")?,
            region_id: required(&cfg.region_id, "sms.aliyun.region_id")?,
            client: http_client(timeout_secs)?,
        })
    }

    /// The signed request; `timestamp` is `YYYY-MM-DDThh:mm:ssZ` in UTC.
    fn request(&self, msg: &SmsMessage, nonce: &str, timestamp: &str) -> RequestBuilder {
        let template_param = json!({ "content": msg.text_without_signature }).to_string();
        let params: Vec<(String, String)> = [
            ("AccessKeyId", self.access_key_id.as_str()),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("RegionId", &self.region_id),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0"),
            ("Timestamp", timestamp),
            ("Version", "2017-05-25"),
            ("PhoneNumbers", &aliyun_phone(&msg.to)),
            ("SignName", &self.sign_name),
            ("TemplateCode", &self.template_code),
            ("TemplateParam", &template_param),
            ("OutId", &msg.reference),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut url = self.url.clone();
        // The query is already percent-encoded exactly as signed; set it verbatim rather than
        // through a form serializer that would encode differently (space as `+`).
        url.set_query(Some(&aliyun_signed_query(
            &self.access_key_secret,
            "GET",
            &params,
        )));
        self.client.get(url)
    }
}

/// Aliyun wants Chinese numbers without the country code and others as country code plus
/// number, without `+`.
pub(in crate::notify::delivery) fn aliyun_phone(e164: &str) -> String {
    match e164.strip_prefix("+86") {
        Some(national) => national.to_string(),
        None => e164.trim_start_matches('+').to_string(),
    }
}

pub(in crate::notify::delivery) fn aliyun_timestamp(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliyunReply {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    biz_id: String,
    #[serde(default)]
    request_id: String,
}

fn aliyun_code_is_transient(code: &str) -> bool {
    let family = |name: &str| code == name || code.starts_with(&format!("{name}."));
    code == "isv.BUSINESS_LIMIT_CONTROL"
        || code.starts_with("Throttling")
        || code == "SignatureNonceUsed"
        || code == "isp.SYSTEM_ERROR"
        || family("InternalError")
        || family("ServiceUnavailable")
}

fn aliyun_outcome(reply: &Reply) -> Outcome {
    let parsed = serde_json::from_slice::<AliyunReply>(&reply.body)
        .ok()
        .filter(|r| !r.code.is_empty());
    let Some(r) = parsed else {
        return unreadable("aliyun", reply);
    };
    if r.code == "OK" && reply.status.is_success() {
        let provider_id = if r.biz_id.is_empty() {
            r.request_id
        } else {
            r.biz_id
        };
        return Outcome::Sent { provider_id };
    }
    let detail = format!("aliyun {}: {}", r.code, clip(&r.message));
    if aliyun_code_is_transient(&r.code) || retryable(reply.status) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
}

impl SmsProvider for AliyunSms {
    fn name(&self) -> &'static str {
        "aliyun"
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a> {
        Box::pin(async move {
            let timestamp = aliyun_timestamp(chrono::Utc::now());
            let request = self.request(msg, &new_nonce(), &timestamp);
            match execute("aliyun", request).await {
                Ok(reply) => aliyun_outcome(&reply),
                Err(outcome) => outcome,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::sms::test_support::*;
    use serde_json::Value;

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
    fn aliyun_phone_format() {
        assert_eq!(aliyun_phone("+8613800138000"), "13800138000");
        assert_eq!(aliyun_phone("+8659523456789"), "59523456789");
        assert_eq!(aliyun_phone("+85291234567"), "85291234567");
        assert_eq!(aliyun_phone("+14155550100"), "14155550100");
    }

    #[test]
    fn aliyun_timestamp_format() {
        let t = chrono::DateTime::from_timestamp(1_499_827_339, 0).expect("time");
        assert_eq!(aliyun_timestamp(t), "2017-07-12T02:42:19Z");
    }

    #[test]
    fn nonces_are_uuid_shaped_and_differ() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn aliyun_request_is_signed_and_complete() {
        let p = AliyunSms::new(&sms_config().aliyun, 5).expect("provider");
        let nonce = "45e25e9b-0a6f-4070-8c85-2956eda1b466";
        let req = p
            .request(&message(), nonce, "2017-07-12T02:42:19Z")
            .build()
            .expect("request");
        assert_eq!(req.method(), reqwest::Method::GET);
        assert_eq!(req.url().host_str(), Some("dysmsapi.aliyuncs.com"));
        assert_eq!(req.url().path(), "/");
        let raw = req.url().query().expect("query");
        assert!(!raw.contains('+'), "spaces and pluses are %-encoded: {raw}");
        let pairs: Vec<(String, String)> = req.url().query_pairs().into_owned().collect();
        assert!(aliyun_verify("testSecret", "GET", &pairs));
        assert!(!aliyun_verify("otherSecret", "GET", &pairs));
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        assert_eq!(get("AccessKeyId"), "testId");
        assert_eq!(get("Action"), "SendSms");
        assert_eq!(get("Format"), "JSON");
        assert_eq!(get("RegionId"), "cn-hangzhou");
        assert_eq!(get("SignatureMethod"), "HMAC-SHA1");
        assert_eq!(get("SignatureNonce"), nonce);
        assert_eq!(get("SignatureVersion"), "1.0");
        assert_eq!(get("Timestamp"), "2017-07-12T02:42:19Z");
        assert_eq!(get("Version"), "2017-05-25");
        assert_eq!(get("PhoneNumbers"), "13800138000");
        assert_eq!(get("SignName"), "湖上乡应急办");
        assert_eq!(get("TemplateCode"), "SMS_71390007");
        assert_eq!(get("OutId"), "dlv-42");
        let param: Value = serde_json::from_str(get("TemplateParam")).expect("json");
        assert_eq!(
            param,
            json!({"content": "暴雨红色预警：请立即转移。回复1确认"})
        );
        assert_eq!(pairs.len(), 15, "14 parameters and the signature");
    }

    #[test]
    fn aliyun_outcomes() {
        let ok = r#"{"Message":"OK","RequestId":"r1","BizId":"900619746936498440^0","Code":"OK"}"#;
        assert_eq!(
            aliyun_outcome(&reply(200, ok)),
            sent("900619746936498440^0")
        );
        for code in [
            "isv.BUSINESS_LIMIT_CONTROL",
            "Throttling.User",
            "Throttling",
            "SignatureNonceUsed",
            "InternalError",
            "ServiceUnavailable",
        ] {
            let body = format!(r#"{{"Code":"{code}","Message":"m","RequestId":"r"}}"#);
            let o = aliyun_outcome(&reply(200, &body));
            assert!(is_transient(&o), "{code}: {o:?}");
        }
        for code in [
            "isv.MOBILE_NUMBER_ILLEGAL",
            "isv.TEMPLATE_MISSING_PARAMETERS",
            "isv.SMS_TEMPLATE_ILLEGAL",
            "InvalidAccessKeyId.NotFound",
            "SignatureDoesNotMatch",
        ] {
            let body = format!(r#"{{"Code":"{code}","Message":"非法手机号","RequestId":"r"}}"#);
            let o = aliyun_outcome(&reply(400, &body));
            assert_eq!(o, Outcome::Permanent(format!("aliyun {code}: 非法手机号")));
        }
        assert!(is_transient(&aliyun_outcome(&reply(
            503,
            "<html>busy</html>"
        ))));
        assert!(is_transient(&aliyun_outcome(&reply(
            500,
            r#"{"Code":"Whatever"}"#
        ))));
        assert!(is_transient(&aliyun_outcome(&reply(200, "not json"))));
        assert!(is_permanent(&aliyun_outcome(&reply(404, "not found"))));
    }
}
