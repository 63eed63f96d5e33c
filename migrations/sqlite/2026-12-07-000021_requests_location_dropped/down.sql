CREATE INDEX requests_location ON requests (lat, lon);
