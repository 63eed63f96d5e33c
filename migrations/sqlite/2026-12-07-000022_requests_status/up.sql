-- Lists by status, the commonest question an Open311 client asks (`status=open`, often
-- with a service), read every report of the service before: the open ones are few and
-- spread through the (service_code, requested_at) index. This one finds them at once,
-- newest first. A new report enters it at the end of its (status, service) run, where
-- the pages are already in the writer's cache.
CREATE INDEX requests_status ON requests (status, service_code, requested_at);
