-- Absolute URLs cannot be rebuilt from the relative ones with certainty.
SELECT 1;
