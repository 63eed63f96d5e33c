//! Upkeep's predictive core.
//!
//! Pure computation only: this crate never depends on actix, diesel or tokio, so the
//! same code serves the server, the command line and offline experiments.

pub mod city;
pub mod coverage;
pub mod network;
pub mod risk;
