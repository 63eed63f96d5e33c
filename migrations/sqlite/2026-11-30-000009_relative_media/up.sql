-- Upkeep stored its own photos' URLs whole, with a host taken from the request's
-- headers (which a client could set). They become paths (`/media/7`); answers add the
-- configured origin. Another site's URL a client gave stays as it is.
UPDATE requests
   SET media_url = substr(media_url, instr(media_url, '/media/'))
 WHERE instr(media_url, '/media/') > 0
   AND substr(media_url, 1, 1) <> '/'
   AND substr(media_url, instr(media_url, '/media/') + 7) IN (SELECT id FROM media);
UPDATE request_updates
   SET media_url = substr(media_url, instr(media_url, '/media/'))
 WHERE instr(media_url, '/media/') > 0
   AND substr(media_url, 1, 1) <> '/'
   AND substr(media_url, instr(media_url, '/media/') + 7) IN (SELECT id FROM media);
