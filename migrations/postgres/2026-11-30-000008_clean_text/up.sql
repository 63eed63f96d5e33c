-- Text with NUL or other C0 control characters (tab, CR and LF aside) is refused on the
-- way in now; the text columns that answers show lose those characters here, so no
-- answer carries a character XML forbids.
-- PostgreSQL text never holds a NUL.
UPDATE requests SET status_notes = regexp_replace(status_notes, '[\x01-\x08\x0B\x0C\x0E-\x1F]', '', 'g') WHERE status_notes ~ '[\x01-\x08\x0B\x0C\x0E-\x1F]';
UPDATE requests SET description = regexp_replace(description, '[\x01-\x08\x0B\x0C\x0E-\x1F]', '', 'g') WHERE description ~ '[\x01-\x08\x0B\x0C\x0E-\x1F]';
UPDATE requests SET address = regexp_replace(address, '[\x01-\x08\x0B\x0C\x0E-\x1F]', '', 'g') WHERE address ~ '[\x01-\x08\x0B\x0C\x0E-\x1F]';
UPDATE requests SET address_id = regexp_replace(address_id, '[\x01-\x08\x0B\x0C\x0E-\x1F]', '', 'g') WHERE address_id ~ '[\x01-\x08\x0B\x0C\x0E-\x1F]';
UPDATE requests SET zipcode = regexp_replace(zipcode, '[\x01-\x08\x0B\x0C\x0E-\x1F]', '', 'g') WHERE zipcode ~ '[\x01-\x08\x0B\x0C\x0E-\x1F]';
UPDATE request_updates SET description = regexp_replace(description, '[\x01-\x08\x0B\x0C\x0E-\x1F]', '', 'g') WHERE description ~ '[\x01-\x08\x0B\x0C\x0E-\x1F]';
UPDATE work_orders SET notes = regexp_replace(notes, '[\x01-\x08\x0B\x0C\x0E-\x1F]', '', 'g') WHERE notes ~ '[\x01-\x08\x0B\x0C\x0E-\x1F]';
