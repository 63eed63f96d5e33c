DROP INDEX requests_accepted;
