-- Scores of a model whose unit is a grid cell (a city without a street network, or one
-- that plans by area): one row per cell per scoring run, with the cell's square so the
-- map and the priorities need no grid of their own.
CREATE TABLE risk_cell_scores (
    model_version_id BIGINT NOT NULL REFERENCES model_versions(id),
    scored_at TIMESTAMP NOT NULL,
    -- The cell's column and row in the model's grid.
    cell_x BIGINT NOT NULL,
    cell_y BIGINT NOT NULL,
    -- The square, degrees (WGS84).
    west DOUBLE PRECISION NOT NULL,
    south DOUBLE PRECISION NOT NULL,
    east DOUBLE PRECISION NOT NULL,
    north DOUBLE PRECISION NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (model_version_id, scored_at, cell_x, cell_y)
);
