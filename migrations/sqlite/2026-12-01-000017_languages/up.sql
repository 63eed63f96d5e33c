-- The language a subscriber reads their alerts in (issue 17, part 6), as chosen when
-- subscribing (the page's language, else Accept-Language).
ALTER TABLE subscriptions ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
