-- Upkeep stored its own photos' URLs whole, with a host taken from the request's
-- headers (which a client could set). They become paths (`/media/7`); answers add the
-- configured origin. Another site's URL a client gave stays as it is.
UPDATE requests
   SET media_url = substring(media_url FROM strpos(media_url, '/media/'))
 WHERE media_url ~ '/media/[^/]+$'
   AND left(media_url, 1) <> '/'
   AND substring(media_url FROM '/media/([^/]+)$') IN (SELECT id FROM media);
UPDATE request_updates
   SET media_url = substring(media_url FROM strpos(media_url, '/media/'))
 WHERE media_url ~ '/media/[^/]+$'
   AND left(media_url, 1) <> '/'
   AND substring(media_url FROM '/media/([^/]+)$') IN (SELECT id FROM media);
