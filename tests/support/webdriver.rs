//! A minimal W3C WebDriver client over reqwest: just enough to drive Debian's
//! headless Chromium through chromedriver in the dashboard tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The key W3C WebDriver uses for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub type WdResult<T> = Result<T, String>;

/// Whether both the browser and its driver are installed.
pub fn installed() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

pub struct Driver {
    child: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    /// Where screenshots go.
    pub shots: PathBuf,
}

fn free_port() -> WdResult<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl Driver {
    /// Starts chromedriver and a headless Chromium with a fresh profile.
    pub async fn start(profile: &Path, shots: PathBuf) -> WdResult<Driver> {
        let port = free_port()?;
        let log =
            std::fs::File::create(profile.join("chromedriver.log")).map_err(|e| e.to_string())?;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot start {CHROMEDRIVER}: {e}"))?;
        let mut d = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            client: reqwest::Client::new(),
            shots,
        };
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = d.client.get(format!("{}/status", d.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            if Instant::now() > until {
                return Err("chromedriver did not become ready in 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let user_data = profile.join("chrome-profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=zh-CN",
                    format!("--user-data-dir={}", user_data.display()),
                ],
            },
        }}});
        let v = d.raw("POST", "/session", Some(caps)).await?;
        d.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {v}"))?
            .to_string();
        Ok(d)
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = self.client.request(m, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let v: Value = resp
            .json()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if let Some(err) = v["value"]["error"].as_str() {
            return Err(format!(
                "{method} {path}: {err}: {}",
                v["value"]["message"].as_str().unwrap_or("")
            ));
        }
        Ok(v["value"].clone())
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Sets the browser window to `width` × `height` CSS pixels and checks
    /// the page's viewport (`window.innerWidth`) came out that wide: headless
    /// Chromium has no window frame, so the two are the same.
    pub async fn set_window_size(&self, width: u32, height: u32) -> WdResult<()> {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await?;
        let inner = self.exec("return window.innerWidth", json!([])).await?;
        if inner.as_u64() != Some(u64::from(width)) {
            return Err(format!(
                "asked for a window {width} wide, the page is {inner} wide"
            ));
        }
        Ok(())
    }

    pub async fn goto(&self, url: &str) -> WdResult<()> {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .await
            .map(|_| ())
    }

    pub async fn url(&self) -> WdResult<String> {
        Ok(self
            .cmd("GET", "/url", None)
            .await?
            .as_str()
            .unwrap_or("")
            .to_string())
    }

    pub async fn find(&self, css: &str) -> WdResult<String> {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        v[ELEMENT]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no element for {css}"))
    }

    pub async fn find_all(&self, css: &str) -> WdResult<Vec<String>> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
            .collect())
    }

    pub async fn click(&self, el: &str) -> WdResult<()> {
        self.cmd("POST", &format!("/element/{el}/click"), Some(json!({})))
            .await
            .map(|_| ())
    }

    pub async fn clear(&self, el: &str) -> WdResult<()> {
        self.cmd("POST", &format!("/element/{el}/clear"), Some(json!({})))
            .await
            .map(|_| ())
    }

    pub async fn type_text(&self, el: &str, text: &str) -> WdResult<()> {
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await
        .map(|_| ())
    }

    pub async fn text(&self, el: &str) -> WdResult<String> {
        Ok(self
            .cmd("GET", &format!("/element/{el}/text"), None)
            .await?
            .as_str()
            .unwrap_or("")
            .to_string())
    }

    pub async fn property(&self, el: &str, name: &str) -> WdResult<Value> {
        self.cmd("GET", &format!("/element/{el}/property/{name}"), None)
            .await
    }

    /// Runs `script` in the page; `arguments` are plain JSON values.
    pub async fn exec(&self, script: &str, args: Value) -> WdResult<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    // Convenience built from the primitives above.

    pub async fn click_css(&self, css: &str) -> WdResult<()> {
        let el = self.find(css).await?;
        self.click(&el).await
    }

    /// Replaces the value of the input `css` by typing `text`.
    pub async fn fill(&self, css: &str, text: &str) -> WdResult<()> {
        let el = self.find(css).await?;
        self.clear(&el).await?;
        self.type_text(&el, text).await
    }

    pub async fn text_of(&self, css: &str) -> WdResult<String> {
        let el = self.find(css).await?;
        self.text(&el).await
    }

    pub async fn value_of(&self, css: &str) -> WdResult<String> {
        let el = self.find(css).await?;
        Ok(self
            .property(&el, "value")
            .await?
            .as_str()
            .unwrap_or("")
            .to_string())
    }

    /// Chooses the option with `value` in the select `css`, as a click would.
    pub async fn choose(&self, css: &str, value: &str) -> WdResult<()> {
        self.click_css(&format!("{css} option[value=\"{value}\"]"))
            .await
    }

    /// Accepts the confirmation dialog a click opened (a form's
    /// `data-confirm`) and returns what it asked; waits for it a little.
    pub async fn accept_confirm(&self) -> WdResult<String> {
        let until = Instant::now() + Duration::from_secs(5);
        let text = loop {
            match self.cmd("GET", "/alert/text", None).await {
                Ok(v) => break v.as_str().unwrap_or("").to_string(),
                Err(e) if Instant::now() > until => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        self.cmd("POST", "/alert/accept", Some(json!({}))).await?;
        Ok(text)
    }

    pub async fn body_text(&self) -> WdResult<String> {
        self.text_of("body").await
    }

    /// Waits until `css` matches an element.
    pub async fn wait_for(&self, css: &str, secs: u64) -> WdResult<String> {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            match self.find(css).await {
                Ok(el) => return Ok(el),
                Err(e) if Instant::now() > until => {
                    let url = self.url().await.unwrap_or_default();
                    let text = self.body_text().await.unwrap_or_default();
                    let text: String = text.chars().take(600).collect();
                    return Err(format!(
                        "waited {secs} s at {url}: {e}; the page says: {text}"
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until the script returns true.
    pub async fn wait_until(&self, script: &str, secs: u64) -> WdResult<()> {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.exec(script, json!([])).await? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!("waited {secs} s for: {script}"));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Real mouse input (W3C actions): `steps` in viewport CSS pixels, each
    /// a move to (x, y) then the button pressed (`true`) or released.
    async fn mouse(&self, steps: &[(i64, i64, Option<bool>)]) -> WdResult<()> {
        let mut actions = Vec::new();
        for (x, y, button) in steps {
            actions.push(json!({"type": "pointerMove", "duration": 50, "x": x, "y": y, "origin": "viewport"}));
            match button {
                Some(true) => actions.push(json!({"type": "pointerDown", "button": 0})),
                Some(false) => actions.push(json!({"type": "pointerUp", "button": 0})),
                None => {}
            }
        }
        let body = json!({"actions": [{"type": "pointer", "id": "mouse",
            "parameters": {"pointerType": "mouse"}, "actions": actions}]});
        self.cmd("POST", "/actions", Some(body)).await?;
        self.cmd("DELETE", "/actions", None).await.map(|_| ())
    }

    /// A left click at (x, y) in the viewport.
    pub async fn click_at(&self, x: i64, y: i64) -> WdResult<()> {
        self.mouse(&[(x, y, Some(true)), (x, y, Some(false))]).await
    }

    /// Presses the left button at `from`, moves to `to`, releases.
    pub async fn drag(&self, from: (i64, i64), to: (i64, i64)) -> WdResult<()> {
        self.mouse(&[
            (from.0, from.1, Some(true)),
            ((from.0 + to.0) / 2, (from.1 + to.1) / 2, None),
            (to.0, to.1, Some(false)),
        ])
        .await
    }

    /// Saves a PNG screenshot as `<shots>/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> WdResult<PathBuf> {
        let v = self.cmd("GET", "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&self.shots).map_err(|e| e.to_string())?;
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// Prints the page as the browser would (W3C WebDriver "Print Page":
    /// A4, backgrounds as the print stylesheet sets them), saves it as
    /// `<shots>/<name>.pdf` and returns the PDF's bytes.
    pub async fn print_pdf(&self, name: &str) -> WdResult<Vec<u8>> {
        let v = self
            .cmd(
                "POST",
                "/print",
                Some(json!({"page": {"width": 21.0, "height": 29.7}})),
            )
            .await?;
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&self.shots).map_err(|e| e.to_string())?;
        std::fs::write(self.shots.join(format!("{name}.pdf")), &pdf).map_err(|e| e.to_string())?;
        Ok(pdf)
    }

    pub async fn quit(mut self) {
        let _ = self.cmd("DELETE", "", None).await;
        self.session.clear();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // A failed test must not leave the browser or chromedriver running:
        // end the session (which closes Chromium) with a plain blocking
        // request, then stop the driver.
        if !self.session.is_empty()
            && let Some(addr) = self.base.strip_prefix("http://")
            && let Ok(mut s) = std::net::TcpStream::connect(addr)
        {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
