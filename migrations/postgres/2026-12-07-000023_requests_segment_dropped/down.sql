CREATE INDEX requests_segment ON requests (segment_id);
