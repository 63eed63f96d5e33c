//! The catalogue as this server last read it, read again from the database once it is
//! older than its time-to-live, so a planner's change reaches every server.

use crate::catalogue::Catalogue;
use crate::db::{Database, DbResult};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The catalogue as read from the database, re-read at most every `ttl`.
///
/// Every report needs it, and it changes a few times a year; caching it keeps a query
/// off the intake path, while the short time-to-live lets a change made through one
/// server reach every other without a restart.
pub struct CatalogueCache {
    db: Database,
    ttl: Duration,
    current: RwLock<Option<(Instant, Arc<Catalogue>)>>,
}

impl CatalogueCache {
    pub fn new(db: Database, ttl: Duration) -> Self {
        CatalogueCache {
            db,
            ttl,
            current: RwLock::new(None),
        }
    }

    /// The cached catalogue if it is fresh enough; never touches the database, so async
    /// code may call it.
    pub fn cached(&self) -> Option<Arc<Catalogue>> {
        match &*self.current.read().unwrap_or_else(|p| p.into_inner()) {
            Some((loaded, catalogue)) if loaded.elapsed() < self.ttl => Some(catalogue.clone()),
            _ => None,
        }
    }

    /// Forgets the cached copy, so this server sees a change it made at once (others
    /// within the time-to-live).
    pub fn invalidate(&self) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The current catalogue; reads the database when the cached copy is too old.
    pub fn get(&self) -> DbResult<Arc<Catalogue>> {
        if let Some(catalogue) = self.cached() {
            return Ok(catalogue);
        }
        let (services, changed_at) = self.db.read(crate::db::services::active)?;
        let catalogue = Arc::new(Catalogue {
            services,
            changed_at,
        });
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), catalogue.clone()));
        Ok(catalogue)
    }
}
