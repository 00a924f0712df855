//! A loopback stand-in for the three work-group robots, on one HTTP server
//! with each provider's own path:
//!
//! - WeCom `POST /cgi-bin/webhook/send?key=KEY`: an unknown key answers
//!   errcode 93000; the body must be `{"msgtype": "text", "text": {"content"
//!   (≤ 2048 bytes), "mentioned_mobile_list"?}}` or `{"msgtype": "markdown",
//!   "markdown": {"content" (≤ 4096 bytes)}}`.
//! - DingTalk `POST /robot/send?access_token=T&timestamp=…&sign=…`: the
//!   `timestamp` (ms, within an hour) and the URL-decoded `sign` are checked
//!   against the token's secret as 加签 documents it (errcode 310000 on a
//!   mismatch); the body is `text` or `markdown` (`title`, `text`) with an
//!   optional `at.atMobiles`.
//! - Feishu `POST /open-apis/bot/v2/hook/TOKEN`: with a secret, the body's
//!   `timestamp` (s, within an hour) and `sign` are checked as 签名校验
//!   documents it (code 19021 on a mismatch); `msg_type` "text" with
//!   `content.text`.
//!
//! Everything that arrives is recorded; a scripted failure answers the next
//! correctly signed posts with an HTTP status or a provider code.
//! Include it with `#[path = "support/robot_sim.rs"] mod robot_sim;`.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fenghuo::notify::robots::sign::{dingtalk_verify, feishu_verify};
use serde_json::{Value, json};

/// Which robot a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Robot {
    Wecom,
    Dingtalk,
    Feishu,
}

/// One post as it reached the simulator.
#[derive(Debug, Clone)]
pub struct Received {
    pub robot: Robot,
    /// The key (WeCom) or access token (DingTalk, Feishu) it was sent to.
    pub token: String,
    /// text | markdown
    pub msgtype: String,
    /// The text posted (WeCom's content, DingTalk's text, Feishu's text).
    pub content: String,
    /// The numbers @mentioned (WeCom's mentioned_mobile_list, DingTalk's atMobiles).
    pub mentions: Vec<String>,
    /// DingTalk's markdown title.
    pub title: Option<String>,
    /// The signature (DingTalk, Feishu with a secret) verified.
    pub signed: bool,
    /// DingTalk's `timestamp` query parameter, or Feishu's body `timestamp`.
    pub timestamp: Option<String>,
    /// The body as JSON.
    pub body: Value,
    /// Answered as posted (code 0).
    pub accepted: bool,
    /// The code answered (errcode / code), 0 when posted.
    pub code: i64,
}

/// How a scripted failure answers.
#[derive(Debug, Clone, Copy)]
pub enum Fail {
    /// This HTTP status with an empty body.
    Http(u16),
    /// HTTP 200 with this errcode / code.
    Code(i64),
}

#[derive(Default)]
struct SimState {
    wecom: Vec<String>,
    dingtalk: HashMap<String, String>,
    feishu: HashMap<String, Option<String>>,
    received: Vec<Received>,
    failures: VecDeque<Fail>,
}

struct Shared {
    state: Mutex<SimState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running simulator; stopped when dropped.
pub struct Sim {
    /// http://127.0.0.1:PORT
    pub base: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn start() -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let shared = Arc::new(Shared {
        state: Mutex::new(SimState::default()),
    });
    let app = Router::new().fallback(handle).with_state(shared.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Sim {
        base: format!("http://{addr}"),
        shared,
        server,
    }
}

impl Sim {
    /// A WeCom robot with this key; its webhook address.
    pub fn wecom(&self, key: &str) -> String {
        self.shared.lock().wecom.push(key.to_string());
        format!("{}/cgi-bin/webhook/send?key={key}", self.base)
    }

    /// A DingTalk robot with this access token and 加签 secret; its address.
    pub fn dingtalk(&self, token: &str, secret: &str) -> String {
        self.shared
            .lock()
            .dingtalk
            .insert(token.to_string(), secret.to_string());
        format!("{}/robot/send?access_token={token}", self.base)
    }

    /// A Feishu bot with this hook token and, if any, 签名校验 secret.
    pub fn feishu(&self, token: &str, secret: Option<&str>) -> String {
        self.shared
            .lock()
            .feishu
            .insert(token.to_string(), secret.map(str::to_string));
        format!("{}/open-apis/bot/v2/hook/{token}", self.base)
    }

    /// Every post that arrived, refused ones too, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// The posts answered as posted, to `token`.
    pub fn posted_to(&self, token: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.accepted && r.token == token)
            .collect()
    }

    /// The next `n` correctly signed, well-formed posts fail as `how`.
    pub fn fail_next(&self, n: usize, how: Fail) {
        self.shared
            .lock()
            .failures
            .extend(std::iter::repeat_n(how, n));
    }

    /// Waits until `n` posts were accepted in all, or panics after `timeout`.
    pub async fn wait_for_accepted(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let got: Vec<Received> = self.received().into_iter().filter(|r| r.accepted).collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "{} posts accepted, {n} expected: {:?}",
                got.len(),
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn answer(robot: Robot, code: i64, msg: &str) -> Response {
    let body = match robot {
        Robot::Wecom | Robot::Dingtalk => json!({"errcode": code, "errmsg": msg}),
        Robot::Feishu => json!({"code": code, "msg": msg, "data": {}}),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn text_of<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = v;
    for p in path {
        at = at.get(*p)?;
    }
    at.as_str()
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v {
        None => Some(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(|x| x.as_str().map(str::to_string)).collect(),
        Some(_) => None,
    }
}

/// The documented shape of each provider's body: (msgtype, content,
/// mentions, title), or why it is not.
fn shape(robot: Robot, v: &Value) -> Result<(String, String, Vec<String>, Option<String>), String> {
    match robot {
        Robot::Wecom => {
            let t = text_of(v, &["msgtype"]).ok_or("msgtype missing")?;
            let (content, max) = match t {
                "text" => (text_of(v, &["text", "content"]), 2048),
                "markdown" => (text_of(v, &["markdown", "content"]), 4096),
                other => return Err(format!("msgtype {other} not expected")),
            };
            let content = content.ok_or("content missing")?;
            if content.is_empty() || content.len() > max {
                return Err(format!("content of {} bytes (1..={max})", content.len()));
            }
            if t == "markdown" && v["markdown"].get("mentioned_mobile_list").is_some() {
                return Err("markdown cannot @mention".into());
            }
            let mentions = strings(v["text"].get("mentioned_mobile_list"))
                .ok_or("mentioned_mobile_list is not a list of strings")?;
            Ok((t.into(), content.into(), mentions, None))
        }
        Robot::Dingtalk => {
            let t = text_of(v, &["msgtype"]).ok_or("msgtype missing")?;
            let (content, title) = match t {
                "text" => (text_of(v, &["text", "content"]), None),
                "markdown" => (
                    text_of(v, &["markdown", "text"]),
                    Some(
                        text_of(v, &["markdown", "title"])
                            .filter(|s| !s.is_empty())
                            .ok_or("markdown.title missing")?
                            .to_string(),
                    ),
                ),
                other => return Err(format!("msgtype {other} not expected")),
            };
            let content = content.filter(|c| !c.is_empty()).ok_or("content missing")?;
            let mentions = strings(v.get("at").and_then(|a| a.get("atMobiles")))
                .ok_or("at.atMobiles is not a list of strings")?;
            Ok((t.into(), content.into(), mentions, title))
        }
        Robot::Feishu => {
            if text_of(v, &["msg_type"]) != Some("text") {
                return Err("msg_type must be text".into());
            }
            let content = text_of(v, &["content", "text"])
                .filter(|c| !c.is_empty())
                .ok_or("content.text missing")?;
            Ok(("text".into(), content.into(), Vec::new(), None))
        }
    }
}

async fn handle(State(s): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let (robot, token) = if path == "/cgi-bin/webhook/send" {
        (Robot::Wecom, query.get("key").cloned().unwrap_or_default())
    } else if path == "/robot/send" {
        (
            Robot::Dingtalk,
            query.get("access_token").cloned().unwrap_or_default(),
        )
    } else if let Some(t) = path.strip_prefix("/open-apis/bot/v2/hook/") {
        (Robot::Feishu, t.to_string())
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let now = chrono::Utc::now().timestamp_millis();
    let mut st = s.lock();
    let mut rec = Received {
        robot,
        token: token.clone(),
        msgtype: String::new(),
        content: String::new(),
        mentions: Vec::new(),
        title: None,
        signed: false,
        timestamp: None,
        body: v.clone(),
        accepted: false,
        code: 0,
    };
    // The credential, then the signature, then the body's shape.
    let refused: Option<(i64, String)> = match robot {
        Robot::Wecom => (!st.wecom.contains(&token)).then(|| {
            (
                93000,
                "invalid webhook url, hint: [key not exist]".to_string(),
            )
        }),
        Robot::Dingtalk => match st.dingtalk.get(&token) {
            None => Some((300001, "token is not exist".into())),
            Some(secret) => {
                let ts = query.get("timestamp").cloned().unwrap_or_default();
                let sign = query.get("sign").cloned().unwrap_or_default();
                rec.timestamp = Some(ts.clone());
                match dingtalk_verify(secret, &ts, &sign, now) {
                    Ok(()) => {
                        rec.signed = true;
                        None
                    }
                    Err(e) => Some((310000, format!("sign not match ({e})"))),
                }
            }
        },
        Robot::Feishu => match st.feishu.get(&token) {
            None => Some((
                19001,
                "param invalid: incoming webhook access token invalid".into(),
            )),
            Some(None) => None,
            Some(Some(secret)) => {
                let ts = text_of(&v, &["timestamp"]).unwrap_or("").to_string();
                let sign = text_of(&v, &["sign"]).unwrap_or("");
                rec.timestamp = Some(ts.clone());
                match feishu_verify(secret, &ts, sign, now.div_euclid(1000)) {
                    Ok(()) => {
                        rec.signed = true;
                        None
                    }
                    Err(_) => Some((
                        19021,
                        "sign match fail or timestamp is not within one hour from current time"
                            .into(),
                    )),
                }
            }
        },
    };
    let refused = refused.or_else(|| match shape(robot, &v) {
        Ok((t, content, mentions, title)) => {
            rec.msgtype = t;
            rec.content = content;
            rec.mentions = mentions;
            rec.title = title;
            None
        }
        Err(why) => Some((
            match robot {
                Robot::Feishu => 9499,
                _ => 40035,
            },
            format!("invalid body: {why}"),
        )),
    });
    if let Some((code, msg)) = refused {
        rec.code = code;
        st.received.push(rec);
        return answer(robot, code, &msg);
    }
    if let Some(f) = st.failures.pop_front() {
        match f {
            Fail::Http(status) => {
                rec.code = -i64::from(status);
                st.received.push(rec);
                return StatusCode::from_u16(status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                    .into_response();
            }
            Fail::Code(code) => {
                rec.code = code;
                st.received.push(rec);
                return answer(robot, code, "scripted failure");
            }
        }
    }
    rec.accepted = true;
    st.received.push(rec);
    match robot {
        Robot::Feishu => answer(robot, 0, "success"),
        _ => answer(robot, 0, "ok"),
    }
}
