//! End-to-end tests: each starts the real server on a random port with a fresh database
//! and drives it over HTTP. Run against PostgreSQL by setting UPKEEP_TEST_DATABASE_URL.

// Tests may panic on a missing value: that is how they fail.
#![allow(clippy::unwrap_used)]

mod agents;
mod alerts;
mod cluster;
mod dedup;
mod demo;
mod discovery;
mod errors;
mod fair_load;
mod follow;
mod helpers;
mod imports;
mod languages;
mod media;
mod neighbourhoods;
mod pg_restart;
mod risk;
mod scale_out;
mod search;
mod segments;
mod services;
mod snapping;
mod spatial;
mod submit;
mod tiles;
mod work_orders;
