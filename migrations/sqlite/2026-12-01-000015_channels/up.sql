-- How each report reached the city (issue 17, part 4): `web` (no key), `app` (a
-- client's key), `phone` or `counter` (an agent filing it for a resident), or what an
-- imported history says. Imported reports take the channel their source recorded.
ALTER TABLE requests ADD COLUMN channel TEXT;
UPDATE requests SET channel = (
    SELECT request_sources.channel FROM request_sources
    WHERE request_sources.request_id = requests.id
) WHERE channel IS NULL;
