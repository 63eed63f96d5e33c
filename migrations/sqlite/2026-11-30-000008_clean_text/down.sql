-- Removed characters cannot be put back.
SELECT 1;
