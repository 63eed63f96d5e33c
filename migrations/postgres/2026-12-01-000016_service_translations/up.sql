-- A service's name, group and description in other languages (issue 17, part 6), as a
-- JSON object by language ({"fr": {"name": …}}); attributes carry their own inside the
-- attributes JSON.
ALTER TABLE services ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
