//! Upkeep's server side: configuration, persistence, services and the HTTP API.
//!
//! Layers, top to bottom: [`http`] (routes, wire formats, errors as HTTP) → services
//! ([`intake`], [`catalogue`], [`auth`]) → [`db`] (diesel, both backends). Each layer has
//! its own error type; only `http` turns errors into status codes.

pub mod alerts;
pub mod app;
pub mod auth;
pub mod catalogue;
pub mod catalogue_cache;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod grid;
pub mod http;
pub mod i18n;
pub mod import;
pub mod intake;
pub mod leases;
pub mod neighbourhoods;
pub mod priority;
pub mod report_index;
pub mod report_status;
pub mod risk;
pub mod roads;
pub mod route;
pub mod search;
pub mod spatial;
pub mod stats;
pub mod tiles;
pub mod work_orders;

pub use app::Application;
pub use config::Settings;
