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
    current: RwLock<Cached>,
}

/// The copy held, and how many times it was invalidated: a read that began before an
/// invalidation must not store what it read (it may predate the change).
#[derive(Default)]
struct Cached {
    copy: Option<(Instant, Arc<Catalogue>)>,
    generation: u64,
}

impl CatalogueCache {
    pub fn new(db: Database, ttl: Duration) -> Self {
        CatalogueCache {
            db,
            ttl,
            current: RwLock::new(Cached::default()),
        }
    }

    /// The cached catalogue if it is fresh enough; never touches the database, so async
    /// code may call it.
    pub fn cached(&self) -> Option<Arc<Catalogue>> {
        match &self.current.read().unwrap_or_else(|p| p.into_inner()).copy {
            Some((loaded, catalogue)) if loaded.elapsed() < self.ttl => Some(catalogue.clone()),
            _ => None,
        }
    }

    /// Forgets the cached copy, so this server sees a change it made at once (others
    /// within the time-to-live).
    pub fn invalidate(&self) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        current.copy = None;
        current.generation += 1;
    }

    /// The current catalogue; reads the database when the cached copy is too old.
    pub fn get(&self) -> DbResult<Arc<Catalogue>> {
        if let Some(catalogue) = self.cached() {
            return Ok(catalogue);
        }
        let generation = self.generation();
        let (services, changed_at) = self.db.read(crate::db::services::active)?;
        let catalogue = Arc::new(Catalogue {
            services,
            changed_at,
        });
        self.keep(generation, &catalogue);
        Ok(catalogue)
    }

    fn generation(&self) -> u64 {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .generation
    }

    /// Keeps a copy read when the cache was at `generation`, unless a change invalidated
    /// the cache since: what was read may be older than the change, so it is used once
    /// but not kept.
    fn keep(&self, generation: u64, catalogue: &Arc<Catalogue>) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.generation == generation {
            current.copy = Some((Instant::now(), catalogue.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    #[test]
    fn a_read_that_began_before_an_invalidation_is_not_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::open(&DatabaseUrl::Sqlite(dir.path().join("c.db")), 1).expect("open");
        let cache = CatalogueCache::new(db, Duration::from_secs(60));
        let read = cache.get().expect("a first read");
        assert!(cache.cached().is_some(), "a read is kept");
        // A read begins, a planner's change invalidates the cache, the read ends.
        let began = cache.generation();
        cache.invalidate();
        cache.keep(began, &read);
        assert!(cache.cached().is_none(), "the older read is not kept");
        // A read that began after the change is kept.
        cache.get().expect("a read after the change");
        assert!(cache.cached().is_some());
    }
}
