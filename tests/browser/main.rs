//! The web pages in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, from Debian's `chromium-driver`, which `.ci/run` installs).
//!
//! Each test starts the real server on a random port with a fresh database, and fails on
//! any error the browser logs (script errors, failed loads, refused content). Screenshots
//! of each page are kept in `target/browser-screenshots/`.
//!
//! Without chromedriver on the machine the tests say so and pass, except under CI
//! (`CI` set), where a missing browser is a failure.

#![allow(clippy::unwrap_used)]

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod browser;
mod pages;
