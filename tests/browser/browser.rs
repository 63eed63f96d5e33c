//! A headless Chromium session: chromedriver on a free port, fantoccini talking to it,
//! the browser's own log for errors, and screenshots.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    pub client: Client,
    driver: Child,
}

/// A browser, or None (with a note) when this machine has none and this is not CI.
pub async fn open(width: u32, height: u32) -> Option<Browser> {
    if !std::path::Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMEDRIVER} is missing: .ci/run installs chromium and chromium-driver"
        );
        eprintln!("skipped: no {CHROMEDRIVER} (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let mut capabilities = serde_json::Map::new();
    let mut options = json!({
        "binary": CHROMIUM,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 format!("--window-size={width},{height}"), "--lang=en-GB"],
    });
    // Chromium keeps a window at least 500 px wide; a phone's narrower screen is
    // emulated instead, so the page really lays out at `width`.
    if width < 500 {
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": false}
        });
    }
    capabilities.insert("goog:chromeOptions".into(), options);
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser { client, driver });
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer: {last:?}");
}

/// chromedriver's log of what the browser said (`POST /session/{id}/se/log`).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Waits (up to 20 s) until the page has drawn what it shows first.
    pub async fn wait_rendered(&self) {
        self.wait_for_css("body[data-rendered='true']").await;
    }

    pub async fn wait_for_css(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                self.screenshot("failure").await;
                let said = self
                    .client
                    .execute(
                        "const m = document.querySelector('main'); return m ? m.innerText : ''",
                        vec![],
                    )
                    .await
                    .unwrap_or_default();
                panic!(
                    "{css} never appeared ({e}); the page said {said}; errors: {:?}",
                    self.errors().await
                );
            }
        }
    }

    /// Clicks the map `dx`, `dy` pixels from its centre, as a finger or mouse would.
    pub async fn click_map(&self, dx: f64, dy: f64) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction};
        let map = self.wait_for_css("#map").await;
        let actions = MouseActions::new("mouse".to_owned())
            .then(PointerAction::MoveToElement {
                element: map,
                duration: None,
                x: dx,
                y: dy,
            })
            .then(PointerAction::Down {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(actions).await.unwrap();
    }

    /// Runs `op` on the element, finding it again if the page redrew it meanwhile (a map
    /// move refreshes lists and panels).
    async fn on_current<T, Fut>(
        &self,
        css: &str,
        op: impl Fn(fantoccini::elements::Element) -> Fut,
    ) -> T
    where
        Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        for _ in 0..10 {
            match op(self.wait_for_css(css).await).await {
                Ok(value) => return value,
                Err(e) if e.to_string().contains("stale element") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{css}: {e}"),
            }
        }
        panic!("{css} kept being redrawn");
    }

    pub async fn click(&self, css: &str) {
        self.on_current(css, |element| async move { element.click().await })
            .await
    }

    /// Sends keys to whatever has the focus, as a keyboard would (WebDriver key codes:
    /// [`TAB`], [`ENTER`], [`ARROW_DOWN`]).
    pub async fn press(&self, keys: &str) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut typed = KeyActions::new("keyboard".into());
        for value in keys.chars() {
            typed = typed
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client.perform_actions(typed).await.unwrap();
    }

    /// The id of the focused element ("" if it has none).
    pub async fn focused_id(&self) -> String {
        self.eval("return document.activeElement ? document.activeElement.id : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for_css(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// The element's text.
    pub async fn text(&self, css: &str) -> String {
        self.on_current(css, |element| async move { element.text().await })
            .await
    }

    /// Waits until the element's text contains `wanted`; returns the text.
    pub async fn wait_for_text(&self, css: &str, wanted: &str) -> String {
        for _ in 0..200 {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && text.contains(wanted)
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never said {wanted:?}");
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Checks the page as it stands against WCAG 2.1 A and AA with axe-core (vendored in
    /// web/vendor, never served by Upkeep) and fails on any serious or critical
    /// violation, listing each with the elements it found.
    pub async fn assert_accessible(&self, page: &str) {
        let loaded = self.eval("return typeof window.axe !== 'undefined'").await;
        if loaded != Value::Bool(true) {
            let axe = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/web/vendor/axe.min.js"
            ))
            .expect("web/vendor/axe.min.js (npm ci && npm run vendor in web/)");
            self.client.execute(&axe, vec![]).await.unwrap();
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then((r) => done(r.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + n.failureSummary) }))))
                   .catch((e) => done([{ id: 'axe failed', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap();
        let violations = found.as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "serious or critical accessibility violations on {page}: {}",
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        );
    }

    /// Saves a screenshot as `target/browser-screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Every error the browser logged since the last call: script errors, failed
    /// requests, refused content.
    pub async fn errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.unwrap();
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn assert_no_errors(&self, page: &str) {
        let errors = self.errors().await;
        assert!(
            errors.is_empty(),
            "the browser logged errors on {page}: {errors:#?}"
        );
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// WebDriver's codes for keys.
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
pub const ARROW_DOWN: &str = "\u{E015}";

/// A failed test does not get to close its browser: chromedriver goes with it anyway.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
