//! A browser-like HTTP client for dashboard tests: keeps cookies by hand,
//! does not follow redirects, reads a page's CSRF token.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

/// A browser-like HTTP client: keeps cookies by hand (reqwest's cookie store
/// is not enabled in this crate) and does not follow redirects, so tests see
/// them.
pub struct Web {
    pub base: String,
    pub client: reqwest::Client,
    jar: Mutex<HashMap<String, String>>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> String {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"_csrf\" value=\"").map(|i| i + 20);
        at.map(|i| self.body[i..].split('"').next().unwrap_or("").to_string())
            .unwrap_or_default()
    }
}

impl Web {
    pub fn new(base: &str) -> Web {
        // reqwest needs rustls's provider installed; a test that starts no
        // `TestApp` first (a daemon of its own) has none yet.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Web {
            base: base.to_string(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: Mutex::new(HashMap::new()),
        }
    }

    /// A client with its own cookies over a shared connection pool.
    pub fn with_client(base: &str, client: reqwest::Client) -> Web {
        Web {
            base: base.to_string(),
            client,
            jar: Mutex::new(HashMap::new()),
        }
    }

    pub fn cookie_header(&self) -> String {
        let jar = self.jar.lock().expect("jar");
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep(&self, h: &HeaderMap) {
        let mut jar = self.jar.lock().expect("jar");
        for v in h.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap_or("");
            let first = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = first.split_once('=') {
                if v.contains("Max-Age=0") {
                    jar.remove(k);
                } else {
                    jar.insert(k.to_string(), val.to_string());
                }
            }
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let resp = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("request");
        self.keep(resp.headers());
        Resp {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// Signs in through the form; panics unless it works.
    pub async fn sign_in(&self, name: &str, password: &str) {
        let page = self.get("/login").await;
        let r = self
            .post(
                "/login",
                &[
                    ("_csrf", &page.csrf()),
                    ("name", name),
                    ("password", password),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "sign-in failed: {}",
            r.body
        );
    }

    /// The CSRF token of a signed-in page.
    pub async fn token(&self) -> String {
        let p = self.get("/").await;
        let t = p.csrf();
        assert!(!t.is_empty(), "no CSRF token on the overview: {}", p.body);
        t
    }
}
